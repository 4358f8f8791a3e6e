"""Common segment phrasings to rule trees, without a model (SPEC 8.1's offline fallback).

The sentence is cut into clauses at "and", "but", "who", "whose", "with", "that" and commas;
each clause must match one of the phrasings below (SUPPORTED_PHRASINGS, also in
docs/ai-segments.md) or the whole sentence is refused, saying which parts were understood and
which were not. A wrong guess would become a wrongly targeted campaign, so nothing is skipped
silently. The result uses the same grammar as the AI builder and is validated the same way.

A pure function of the text, today's date in the club's timezone and the club's tier and tag
names (for their spelling): no database, so the phrase table is tested directly.
"""

import re
from dataclasses import dataclass, field
from datetime import date

from intelligence.errors import IntelligenceError, IntelligenceErrorCode

SUPPORTED_PHRASINGS = (
    "gold members / gold or silver members / active members / lapsed gold members (tiers and statuses)",
    "played at least 3 rounds in the last 30 days / in the last month / this year / since June",
    "hasn't played in 60 days / haven't played since March",
    "booked a tee time in the last 2 weeks / haven't booked in 30 days",
    "no-show in the last 90 days / at least 2 no-shows",
    "opened an email in the last 30 days / haven't opened an email since June",
    "clicked a link in an email in the last 14 days",
    "entered a tournament this year",
    "birthday this week / birthday in the next 10 days / birthday today",
    "renewal within 30 days / due for renewal in the next 2 weeks",
    'tagged Winter league / with the tag "Winter league" / not tagged Staff',
    "joined in the last 90 days / joined since January",
    "handicap under 10 / handicap over 20",
    "opted in to email (or sms, push, whatsapp)",
)

STATUSES = {
    "active": "active",
    "lapsed": "lapsed",
    "suspended": "suspended",
    "resigned": "resigned",
    "prospect": "prospect",
    "prospects": "prospect",
    "prospective": "prospect",
}
# Tier words recognised even when no profile of the club has that tier yet.
COMMON_TIERS = (
    "gold",
    "silver",
    "bronze",
    "platinum",
    "diamond",
    "junior",
    "senior",
    "intermediate",
    "student",
    "social",
    "corporate",
    "family",
    "full",
    "country",
    "associate",
    "honorary",
    "life",
)
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a": 1,
    "an": 1,
}
# Months count as 30 days and years as 365: "the last month" is a rolling window, not a calendar one.
UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365}
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
MEMBER_NOUNS = r"(?:members?|golfers?|players?|people|persons|profiles|customers|everyone|everybody)"
NUMBER = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
UNIT = r"(?P<unit>day|week|fortnight|month|year)s?"
MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")"

CLAUSE_VERBS = r"(?:tagged|joined|played|booked|opened|clicked|entered|renewing|due|not|haven'?t|hasn'?t|never)"
CLAUSE_SPLIT = re.compile(r"\s*(?:,|;|\bbut\b|\band\b|\bwho\b|\bwhose\b|\bwith\b|\bthat\b|\bwhich\b)\s*", re.I)
LEADING_FILLER = re.compile(r"^(?:(?:also|are|is|have|has|had|they|all|both|still|ones?|the|their)\s+)+", re.I)
NEGATION = re.compile(
    r"^(?:haven'?t|hasn'?t|have\s+not|has\s+not|didn'?t|did\s+not|never|not|no\s+longer)\s+(?:been\s+)?", re.I
)
COUNT = re.compile(
    r"\b(?P<words>at\s+least|more\s+than|over|exactly|fewer\s+than|less\s+than|under|at\s+most|no\s+more\s+than)"
    rf"\s+(?P<number>{NUMBER})(?:\s+times?)?\b|\b(?P<plus>\d+)\s*(?:\+|or\s+more)(?:\s+times?)?"
    rf"|\b(?P<bare>{NUMBER})(?=\s+(?:rounds?|times?|emails?|e-mails?|bookings?|tee\s*times?|no-?shows?|links?))"
    r"(?:\s+times?\b)?",
    re.I,
)
COUNT_OPERATORS = {
    "at least": "gte",
    "more than": "gt",
    "over": "gt",
    "exactly": "eq",
    "fewer than": "lt",
    "less than": "lt",
    "under": "lt",
    "at most": "lte",
    "no more than": "lte",
}
PAST_WINDOW = re.compile(
    rf"\s+(?:(?:in|within|over|during|for)\s+)?(?:the\s+)?(?:last|past)\s+(?:(?P<number>{NUMBER})\s+)?{UNIT}$"
    rf"|\s+(?:in|for)\s+(?:over\s+|more\s+than\s+)?(?P<bare_number>{NUMBER})\s+(?P<bare_unit>day|week|fortnight|month|year)s?$"
    rf"|\s+since\s+{MONTH}(?:\s+(?P<year>\d{{4}}))?$"
    r"|\s+(?P<this>this|so\s+far\s+this)\s+(?P<this_unit>week|month|year)$"
    r"|\s+(?P<ever>ever|at\s+all)$",
    re.I,
)
NEXT_WINDOW = (
    rf"(?:(?:in|within)\s+(?:the\s+)?(?:next\s+)?(?P<number>{NUMBER})\s+{UNIT}"
    r"|(?P<this>this)\s+(?P<this_unit>week|month)|(?P<today>today)|(?P<tomorrow>tomorrow))"
)

ACTIVITIES = (
    # (pattern for the clause once negation, count and window are taken off, activity type, properties)
    (r"(?:played|golfed)(?:\s+golf)?(?:\s+(?:a|any)?\s*rounds?(?:\s+of\s+golf)?)?", "round.completed", {}),
    (
        r"(?:booked|made\s+(?:a\s+)?bookings?)(?:\s+(?:a|any)?\s*(?:tee[\s-]*times?|rounds?|bookings?))?",
        "booking.created",
        {},
    ),
    (r"(?:opened|read)\s+(?:an?|any|our)?\s*(?:emails?|e-mails?|newsletters?)", "message.opened", {"channel": "email"}),
    (r"(?:opened|read)\s+(?:an?|any|our)?\s*messages?", "message.opened", {}),
    (
        r"clicked(?:\s+(?:on\s+)?(?:an?|any)?\s*(?:links?|emails?|e-mails?))?\s+in\s+(?:an?|any|our)?\s*(?:emails?|e-mails?)"
        r"|clicked\s+(?:on\s+)?(?:an?|any)?\s*(?:emails?|e-mails?)",
        "message.clicked",
        {"channel": "email"},
    ),
    (r"clicked(?:\s+(?:on\s+)?(?:an?|any)?\s*(?:links?|messages?))?", "message.clicked", {}),
    (
        r"(?:been\s+|was\s+|were\s+)?(?:an?\s+)?no[\s-]?show(?:s|ed)?|missed\s+(?:an?\s+)?(?:tee[\s-]*times?|bookings?)",
        "booking.no_show",
        {},
    ),
    (r"(?:checked\s+in|turned\s+up)", "booking.checked_in", {}),
    (r"(?:entered|played\s+in)\s+(?:an?|any)?\s*(?:tournaments?|competitions?)", "tournament.entry_created", {}),
)


class SegmentTextNotUnderstood(IntelligenceError):
    """Some of the sentence matched no supported phrasing. `details` says what was understood,
    what was not, and the phrasings that work."""

    code = IntelligenceErrorCode.SEGMENT_TEXT_NOT_UNDERSTOOD

    def __init__(self, message: str, *, understood: list[str], not_understood: list[str]):
        self.understood = understood
        self.not_understood = not_understood
        details = {
            "understood": understood,
            "not_understood": not_understood,
            "supported_phrasings": list(SUPPORTED_PHRASINGS),
        }
        super().__init__(message, details)


@dataclass
class _Context:
    today: date
    tiers: dict[str, str]  # lower-cased → the club's spelling
    tags: dict[str, str]
    quoted: list[str] = field(default_factory=list)


def offline_segment_parse(text: str, *, today: date, tiers=(), tags=()) -> dict:
    """The rule tree for `text` (one condition, or {"all": [...]}); raises SegmentTextNotUnderstood.

    `today` is the club's date (relative windows like "since June" count from it); `tiers` and
    `tags` are the club's own names, so "gold members" becomes the club's "Gold" spelling.
    """
    context = _Context(
        today=today,
        tiers={name.lower(): name for name in tiers if name},
        tags={name.lower(): name for name in tags if name},
    )
    # Quoted names (a tag called "Winter and summer") must survive the split at "and".
    prepared = re.sub(r'"([^"]+)"|“([^”]+)”', lambda m: _hold(context, m.group(1) or m.group(2)), text.strip())
    prepared = _join_tier_lists(prepared.rstrip(".!?"), context)
    # "gold members tagged VIP": a new clause starts after the member noun even without "who".
    prepared = re.sub(rf"\b({MEMBER_NOUNS})\s+(?={CLAUSE_VERBS}\b)", r"\1, ", prepared, flags=re.I)
    conditions, understood, not_understood = [], [], []
    for clause in CLAUSE_SPLIT.split(prepared):
        clause = LEADING_FILLER.sub("", clause.strip())
        if not clause or re.fullmatch(MEMBER_NOUNS, clause, re.I):
            continue  # "members", "people who…": says who, not which
        condition = _clause(clause, context)
        shown = _restore(clause, context)
        if condition is None:
            not_understood.append(shown)
        else:
            understood.append(shown)
            conditions.append(condition)
    if not_understood or not conditions:
        missing = "; ".join(f'"{part}"' for part in not_understood) or "no condition at all"
        found = f" (understood: {'; '.join(understood)})" if understood else ""
        raise SegmentTextNotUnderstood(
            f"Not understood: {missing}{found}. Without the AI service only common phrasings work, such as "
            f"{'; '.join(SUPPORTED_PHRASINGS[:3])}; see docs/ai-segments.md for the full list.",
            understood=understood,
            not_understood=not_understood,
        )
    return conditions[0] if len(conditions) == 1 else {"all": conditions}


def _hold(context: _Context, quoted: str) -> str:
    context.quoted.append(quoted)
    return f"__quoted{len(context.quoted) - 1}__"


def _restore(clause: str, context: _Context) -> str:
    return re.sub(r"__quoted(\d+)__", lambda m: f'"{context.quoted[int(m.group(1))]}"', clause)


def _tier_words(context: _Context) -> list[str]:
    words = set(context.tiers) | set(COMMON_TIERS)
    return sorted(words, key=len, reverse=True)  # "junior gold" before "gold"


def _join_tier_lists(text: str, context: _Context) -> str:
    """ "gold and silver members" → "gold|silver members", so the split at "and" keeps them together."""
    adjective = "|".join([*(re.escape(word) for word in _tier_words(context)), *STATUSES])
    pattern = re.compile(
        rf"\b((?:{adjective}))\s*(?:,|\band\b|\bor\b|/)\s*(?=(?:{adjective})\b[^,]*?\b{MEMBER_NOUNS})", re.I
    )
    previous = None
    while previous != text:
        previous, text = text, pattern.sub(r"\1|", text)
    return text


def _clause(clause: str, context: _Context):
    for parse in (_members, _birthday, _renewal, _tagged, _joined, _handicap, _consent, _activity):
        condition = parse(clause, context)
        if condition is not None:
            return condition
    return None


def _members(clause: str, context: _Context):
    """ "lapsed gold|silver members", "active" (a status or tier on its own, or before a noun)."""
    match = re.fullmatch(rf"(?P<words>.+?)(?:\s+{MEMBER_NOUNS})?", clause, re.I)
    words = re.sub(r"\s*\|\s*", " | ", match.group("words").lower()).split()
    tier_words = [tier.split() for tier in _tier_words(context)]  # longest first: "junior gold" wins
    tiers, statuses = [], []
    position = 0
    while position < len(words):
        word = words[position]
        tier = next((tier for tier in tier_words if words[position : position + len(tier)] == tier), None)
        if tier:
            name = " ".join(tier)
            tiers.append(context.tiers.get(name, name.title()))
            position += len(tier)
        elif word in STATUSES:
            statuses.append(STATUSES[word])
            position += 1
        elif word == "|":
            position += 1
        else:
            return None
    conditions = []
    if statuses:
        conditions.append(_one_or_in("membership_status", statuses))
    if tiers:
        conditions.append(_one_or_in("tier", tiers))
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"all": conditions}


def _one_or_in(field_name: str, values: list[str]) -> dict:
    unique = list(dict.fromkeys(values))
    if len(unique) == 1:
        # eq on text is case-insensitive in the compiler; `in` compares exactly.
        return {"field": field_name, "op": "eq", "value": unique[0]}
    return {"field": field_name, "op": "in", "value": unique}


def _birthday(clause: str, context: _Context):
    match = re.fullmatch(
        rf"(?:an?\s+|their\s+)?birthdays?(?:\s+(?:is|are|falls?|coming\s+up|comes\s+up|due))*\s+{NEXT_WINDOW}",
        clause,
        re.I,
    )
    if not match:
        return None
    days = _next_days(match, context)
    return None if days is None or days > 366 else {"birthday": {"within_next_days": days}}


def _renewal(clause: str, context: _Context):
    match = re.fullmatch(
        r"(?:(?:their|a|the)\s+)?(?:membership\s+)?(?:renewals?|renewal\s+date|renew(?:s|ing)?|due\s+(?:for|to)\s+"
        r"renew(?:al)?|up\s+for\s+renewal)(?:\s+(?:is|are|date|due|falls?))*\s+" + NEXT_WINDOW,
        clause,
        re.I,
    )
    if not match:
        return None
    days = _next_days(match, context)
    return None if days is None else {"field": "renewal_on", "op": "within_next_days", "value": days}


def _next_days(match, context: _Context) -> int | None:
    if match.group("today"):
        return 0
    if match.group("tomorrow"):
        return 1
    if match.group("this"):
        if match.group("this_unit").lower() == "week":
            return 7  # "this week" as the SPEC's "the next 7 days", not the calendar week
        next_month = date(context.today.year + context.today.month // 12, context.today.month % 12 + 1, 1)
        return (next_month - context.today).days - 1
    return _number(match.group("number")) * UNIT_DAYS[match.group("unit").lower()]


def _tagged(clause: str, context: _Context):
    negated = NEGATION.match(clause)
    rest = clause[negated.end() :] if negated else clause
    match = re.fullmatch(
        r"(?:tagged|labelled|labeled)\s+(?:as\s+|with\s+)?(?P<name>.+)|(?:the\s+|a\s+)?tag\s+(?P<tag>.+)", rest, re.I
    )
    if not match:
        return None
    name = _restore(match.group("name") or match.group("tag"), context).strip().strip('"').strip()
    if not name or len(name) > 60:
        return None
    tag = {"tag": context.tags.get(name.lower(), name)}
    return {"not": tag} if negated else tag


def _joined(clause: str, context: _Context):
    match = re.fullmatch(r"(?:joined|signed\s+up|became\s+(?:a\s+)?members?)(?P<window>\s+.+)", clause, re.I)
    if not match:
        return None
    window = PAST_WINDOW.fullmatch(match.group("window"))
    days = _past_days(window, context) if window else None
    return None if days is None else {"field": "joined_on", "op": "within_last_days", "value": days}


def _handicap(clause: str, context: _Context):
    match = re.fullmatch(
        r"(?:an?\s+)?handicaps?(?:\s+index)?(?:\s+(?:is|of))?\s+(?P<words>under|below|less\s+than|over|above|more\s+than"
        r"|at\s+most|at\s+least)\s+(?P<number>\d+(?:\.\d+)?)",
        clause,
        re.I,
    )
    if not match:
        return None
    words = " ".join(match.group("words").lower().split())
    op = {"under": "lt", "below": "lt", "less than": "lt", "over": "gt", "above": "gt", "more than": "gt"}.get(words)
    op = op or {"at most": "lte", "at least": "gte"}[words]
    number = float(match.group("number"))
    return {"field": "handicap", "op": op, "value": int(number) if number.is_integer() else number}


def _consent(clause: str, context: _Context):
    negated = NEGATION.match(clause)
    rest = clause[negated.end() :] if negated else clause
    match = re.fullmatch(
        r"(?:opted[\s-]+in|subscribed|consented)\s+(?:to|for)\s+(?P<channel>email|e-mail|sms|text|push|whatsapp)s?"
        r"(?:\s+(?:marketing|messages))?",
        rest,
        re.I,
    )
    if not match:
        return None
    channel = {"e-mail": "email", "text": "sms"}.get(match.group("channel").lower(), match.group("channel").lower())
    return {"field": f"{channel}_opt_in", "op": "eq", "value": not negated}


def _activity(clause: str, context: _Context):
    """[negation] verb [count] [noun] [window]: "haven't opened an email since June"."""
    negated = NEGATION.match(clause)
    # "didn't show up" is the no-show itself, not a negation of "show up".
    if re.fullmatch(r"(?:didn'?t|did\s+not)\s+(?:show|turn)\s+up(?P<rest>.*)", clause, re.I):
        negated = None
        clause = re.sub(r"^(?:didn'?t|did\s+not)\s+(?:show|turn)\s+up", "no-show", clause, flags=re.I)
    rest = clause[negated.end() :] if negated else clause
    spec: dict = {}
    window = PAST_WINDOW.search(rest)
    if window:
        days = _past_days(window, context)
        if days is None:
            return None
        if days is not False:
            spec["within_last_days"] = days
        rest = rest[: window.start()]
    count = COUNT.search(rest)
    if count:
        if count.group("words"):
            op = COUNT_OPERATORS[" ".join(count.group("words").lower().split())]
            number = _number(count.group("number"))
        else:
            op, number = "gte", _number(count.group("plus") or count.group("bare"))
        rest = (rest[: count.start()] + " " + rest[count.end() :]).strip()
        spec["count"] = {"op": op, "value": number}
    rest = " ".join(rest.split())
    for pattern, event_type, properties in ACTIVITIES:
        if re.fullmatch(pattern, rest, re.I):
            activity = {"type": event_type, **spec}
            if properties:
                activity["properties"] = dict(properties)
            if activity.get("count") == {"op": "gte", "value": 1}:
                del activity["count"]  # the grammar's default; the tree reads simpler without it
            return {"not": {"activity": activity}} if negated else {"activity": activity}
    return None


def _past_days(match, context: _Context):
    """Days back from today for a window; False for "ever" (no window); None when impossible."""
    if match.group("ever"):
        return False
    if match.group("month"):
        month = MONTHS[match.group("month").lower()]
        year = int(match.group("year")) if match.group("year") else context.today.year
        if not match.group("year") and month > context.today.month:
            year -= 1  # "since June" said in March means last June
        start = date(year, month, 1)
        days = (context.today - start).days
        return days if 0 <= days <= 3650 else None
    if match.group("this"):
        unit = match.group("this_unit").lower()
        if unit == "week":
            return context.today.weekday()  # since Monday
        if unit == "month":
            return context.today.day - 1
        return (context.today - date(context.today.year, 1, 1)).days
    number = match.group("number") or match.group("bare_number")
    unit = (match.group("unit") or match.group("bare_unit")).lower()
    days = (_number(number) if number else 1) * UNIT_DAYS[unit]
    return days if days <= 3650 else None


def _number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word.lower()]
