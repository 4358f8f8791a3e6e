"""Is this the same person? Name compatibility, probabilistic scores, blocked values (SPEC 5).

Everything here is pure: no queries. The resolver (`crm/services/resolution.py`) loads the facts
and calls these rules, so each rule can be tested and tuned on its own.

- `names_compatible` guards shared keys: an email or phone joins two records only when the names
  agree (a couple or twins sharing an inbox stay two people).
- `match_score` is the probabilistic pass: 0–1 from name similarity (Jaro–Winkler, nicknames,
  initials, swapped first/last), date of birth, postcode, email and phone, with the evidence per
  field that staff see in the review queue.
- `is_blocked` refuses junk values that would otherwise link strangers (`test@test.com`,
  `0000000000`, `null`).
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

import jellyfish

# Defaults; each club may override them in Club.settings["identity"].
AUTO_MERGE_THRESHOLD = 0.85
REVIEW_THRESHOLD = 0.60
MAX_PROFILES_PER_SHARED_KEY = 4  # an email held by more people than this is a family/office inbox
MAX_EMAILS_PER_PROFILE = 5
MAX_PHONES_PER_PROFILE = 5

NICKNAMES = {
    "william": ("bill", "billy", "will", "willie", "liam"),
    "robert": ("bob", "bobby", "rob", "robbie", "bert"),
    "richard": ("rick", "ricky", "dick", "rich", "richie"),
    "james": ("jim", "jimmy", "jamie"),
    "john": ("jack", "johnny", "jon"),
    "jonathan": ("jon", "jonny", "john"),
    "michael": ("mike", "mikey", "mick"),
    "thomas": ("tom", "tommy"),
    "charles": ("charlie", "chuck", "chas"),
    "edward": ("ed", "eddie", "ted", "ned"),
    "elizabeth": ("liz", "lizzie", "beth", "betty", "eliza", "elsa", "liesl"),
    "katherine": ("kate", "katie", "kathy", "kat", "kathryn", "catherine"),
    "catherine": ("cathy", "cat", "kate", "katie"),
    "margaret": ("maggie", "meg", "peggy", "greta"),
    "alexander": ("alex", "sandy", "xander"),
    "alexandra": ("alex", "sandra", "lexi"),
    "andrew": ("andy", "drew"),
    "anthony": ("tony",),
    "benjamin": ("ben", "benji"),
    "christopher": ("chris", "kit"),
    "christine": ("chris", "chrissie", "tina"),
    "daniel": ("dan", "danny"),
    "david": ("dave", "davy"),
    "francois": ("frans", "fanie"),
    "gerhardus": ("gerhard", "gert"),
    "hendrik": ("henk", "hennie", "henry"),
    "jacobus": ("koos", "jaco", "kobus"),
    "johannes": ("johan", "hannes", "jan"),
    "joseph": ("joe", "joey"),
    "matthew": ("matt",),
    "nicholas": ("nick", "nicky"),
    "patrick": ("pat", "paddy"),
    "peter": ("pete",),
    "pieter": ("piet",),
    "samuel": ("sam", "sammy"),
    "stephen": ("steve", "stevie"),
    "steven": ("steve", "stevie"),
    "susan": ("sue", "susie"),
    "timothy": ("tim", "timmy"),
    "victoria": ("vicky", "tori"),
    "jennifer": ("jen", "jenny"),
    "jessica": ("jess", "jessie"),
    "rebecca": ("becky", "becca"),
    "megan": ("meg",),
    "thabo": ("tabs",),
    "sibusiso": ("sbu",),
    "nomvula": ("vuvu",),
    "lerato": ("rato",),
}
_NICKNAME_GROUPS: dict[str, set[str]] = {}
for _formal, _short in NICKNAMES.items():
    for _name in (_formal, *_short):
        _NICKNAME_GROUPS.setdefault(_name, set()).update({_formal, *_short})

BLOCKED_EMAIL_LOCALS = frozenset(
    {"test", "none", "null", "noemail", "no-email", "noreply", "no-reply", "na", "n/a", "unknown", "nomail", "x"}
)
BLOCKED_EMAILS = frozenset({"test@test.com", "a@a.com", "email@email.com", "none@none.com", "example@example.com"})
BLOCKED_IDS = frozenset({"", "0", "null", "none", "n/a", "na", "-", "unknown", "test", "tbc", "x"})
_SURNAME_PARTICLES = re.compile(r"\b(van|der|den|de|du|le|la|von|da|di|mc|mac)\b")


def fold(text: str | None) -> str:
    """Lower-case ASCII letters only: 'Zoë-Ann ' → 'zoeann'."""
    if not text:
        return ""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", ascii_text.lower())


def surname_core(text: str | None) -> str:
    """'van der Merwe' → 'merwe', so 'Merwe, van der' and 'Van Der Merwe' block together."""
    lowered = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return fold(_SURNAME_PARTICLES.sub(" ", lowered)) or fold(lowered)


def name_key(first_name: str | None, last_name: str | None) -> str:
    """Blocking key: surname sound + first initial ('Smith'/'Smyth' + 'J' → 'SM0|j')."""
    core = surname_core(last_name)
    if not core:
        return ""
    initial = fold(first_name)[:1]
    return f"{jellyfish.metaphone(core)[:6]}|{initial}"


def is_blocked(kind: str, value: str, extra: frozenset[str] = frozenset()) -> bool:
    if value in extra:
        return True
    if kind == "email":
        local, _, domain = value.partition("@")
        return value in BLOCKED_EMAILS or local in BLOCKED_EMAIL_LOCALS or not domain
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        national = digits[-9:]
        return len(set(national)) <= 1 or national in ("123456789", "987654321") or len(digits) < 8
    return value.strip().lower() in BLOCKED_IDS


def first_name_similarity(left: str | None, right: str | None) -> float | None:
    a, b = fold(left), fold(right)
    if not a or not b:
        return None
    if a == b or b in _NICKNAME_GROUPS.get(a, ()):
        return 1.0
    if len(a) == 1 or len(b) == 1:
        return 0.85 if a[0] == b[0] else 0.0
    return jellyfish.jaro_winkler_similarity(a, b)


def last_name_similarity(left: str | None, right: str | None) -> float | None:
    a, b = surname_core(left), surname_core(right)
    if not a or not b:
        return None
    return 1.0 if a == b else jellyfish.jaro_winkler_similarity(a, b)


@dataclass
class PersonFacts:
    """What matching compares: a profile's or an incoming record's names, birthday, address."""

    first_name: str = ""
    last_name: str = ""
    date_of_birth: date | None = None
    postcode: str = ""
    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    strong: dict[str, str] = field(default_factory=dict)  # kind → value, e.g. scl_member_id → M1


def _name_pair(left: PersonFacts, right: PersonFacts) -> tuple[float | None, float | None, bool]:
    """(first, last, swapped): the better of straight and swapped first/last comparison."""
    straight = (
        first_name_similarity(left.first_name, right.first_name),
        last_name_similarity(left.last_name, right.last_name),
    )
    swapped = (
        first_name_similarity(left.first_name, right.last_name),
        last_name_similarity(left.last_name, right.first_name),
    )
    total = sum(value or 0 for value in straight)
    if None not in swapped and sum(swapped) > total + 0.2:
        return swapped[0], swapped[1], True
    return straight[0], straight[1], False


def names_compatible(left: PersonFacts, right: PersonFacts) -> bool:
    """May a shared email/phone join these two? Yes unless the names or birthdays say otherwise."""
    first, last, _ = _name_pair(left, right)
    if first is not None and first < 0.85:
        return False  # a couple, siblings or twins sharing a key
    if last is not None and last < 0.80 and first is not None:
        return False
    # A father and son with the same name differ by birthday.
    return not (left.date_of_birth and right.date_of_birth and left.date_of_birth != right.date_of_birth)


def strong_conflict(left: PersonFacts, right: PersonFacts) -> str | None:
    """The kind of system id both hold with different values: they are two people for certain."""
    for kind, value in left.strong.items():
        if kind in right.strong and right.strong[kind] != value:
            return kind
    return None


@dataclass
class MatchScore:
    score: float
    evidence: dict[str, dict]


def match_score(left: PersonFacts, right: PersonFacts) -> MatchScore:
    """How likely two records are one person, 0–1, with the evidence per field."""
    evidence: dict[str, dict] = {}
    first, last, swapped = _name_pair(left, right)
    if first is None or last is None:
        return MatchScore(0.0, {"name": {"result": "missing", "weight": 0}})
    name = (first + last) / 2
    evidence["name"] = {
        "result": "swapped" if swapped else ("same" if name == 1 else "similar"),
        "first": round(first, 3),
        "last": round(last, 3),
    }
    if first < 0.80 or last < 0.80:
        return MatchScore(round(0.3 * name, 3), evidence)  # different people with a similar name
    score = 0.5 * (name - 0.8) / 0.2  # 0 … 0.5 for names 0.8 … 1.0

    if left.date_of_birth and right.date_of_birth:
        if left.date_of_birth == right.date_of_birth:
            score += 0.35
            evidence["date_of_birth"] = {"result": "same", "weight": 0.35}
        elif _transposed(left.date_of_birth, right.date_of_birth):
            score += 0.2
            evidence["date_of_birth"] = {"result": "day and month swapped", "weight": 0.2}
        else:
            evidence["date_of_birth"] = {"result": "different", "weight": "veto"}
            return MatchScore(round(min(score, 0.3), 3), evidence)

    for label, mine, theirs, weight in (
        ("email", left.emails, right.emails, 0.25),
        ("phone", left.phones, right.phones, 0.25),
    ):
        if mine and theirs:
            same = bool(mine & theirs)
            score += weight if same else 0
            evidence[label] = {"result": "same" if same else "different", "weight": weight if same else 0}

    mine, theirs = _postcode(left.postcode), _postcode(right.postcode)
    if mine and theirs:
        same = mine == theirs
        score += 0.15 if same else -0.1
        evidence["postcode"] = {"result": "same" if same else "different", "weight": 0.15 if same else -0.1}

    conflict = strong_conflict(left, right)
    if conflict:
        evidence[conflict] = {"result": "different", "weight": "veto"}
        return MatchScore(round(min(score, 0.3), 3), evidence)
    return MatchScore(round(max(0.0, min(score, 1.0)), 3), evidence)


def _transposed(left: date, right: date) -> bool:
    return left.year == right.year and left.day == right.month and left.month == right.day


def _postcode(value: str | None) -> str:
    return re.sub(r"\s", "", (value or "").upper())


@dataclass(frozen=True)
class MatchPolicy:
    auto_merge: float = AUTO_MERGE_THRESHOLD
    review: float = REVIEW_THRESHOLD
    max_profiles_per_shared_key: int = MAX_PROFILES_PER_SHARED_KEY
    max_emails_per_profile: int = MAX_EMAILS_PER_PROFILE
    max_phones_per_profile: int = MAX_PHONES_PER_PROFILE
    blocked_values: frozenset[str] = frozenset()

    @classmethod
    def for_club(cls, club) -> "MatchPolicy":
        settings = (club.settings or {}).get("identity", {}) if isinstance(club.settings, dict) else {}
        return cls(
            auto_merge=float(settings.get("auto_merge_threshold", AUTO_MERGE_THRESHOLD)),
            review=float(settings.get("review_threshold", REVIEW_THRESHOLD)),
            max_profiles_per_shared_key=int(settings.get("max_profiles_per_shared_key", MAX_PROFILES_PER_SHARED_KEY)),
            max_emails_per_profile=int(settings.get("max_emails_per_profile", MAX_EMAILS_PER_PROFILE)),
            max_phones_per_profile=int(settings.get("max_phones_per_profile", MAX_PHONES_PER_PROFILE)),
            blocked_values=frozenset(str(value).strip().lower() for value in settings.get("blocked_values", [])),
        )
