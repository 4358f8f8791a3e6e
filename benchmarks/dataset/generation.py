"""Who the large club's people are and what their timelines hold: drawn into compact arrays, then rows."""

import json
import random
from array import array
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from crm.demo import story as demo_story
from crm.events import apply
from crm.identity.matching import NICKNAMES
from crm.models import Club

# --- The people --------------------------------------------------------------------------------

# The demo's names, plus the formal names matching knows nicknames for (as benchmarks/identity.py).
FIRST_NAMES = list(dict.fromkeys([*demo_story.FIRST_NAMES, *(name.title() for name in NICKNAMES)]))
LAST_NAMES = list(demo_story.LAST_NAMES)
DOMAINS = demo_story.EMAIL_DOMAINS
TIERS = [tier for tier, _ in demo_story.TIERS]
TIER_CUM = [sum(weight for _, weight in demo_story.TIERS[: n + 1]) for n in range(len(TIERS))]
TIER_FEES = demo_story.TIER_FEES
COURSES = demo_story.COURSES
CAMPAIGNS = [(campaign_id, subject) for campaign_id, subject, _ in demo_story.CAMPAIGNS]
MOBILE_PREFIXES = (72, 73, 76, 79, 82, 83, 84)  # the demo's South African mobile ranges
CLUB_TIMEZONE = "Africa/Johannesburg"
CLUB_UTC_OFFSET = 2 * 3600  # no daylight saving: tee times are computed without zoneinfo

MEMBER, LAPSED, RESIGNED, PROSPECT, VISITOR = range(5)
KIND_CUM = [55, 67, 70, 88, 100]  # demo_story._person: 55 / 12 / 3 / 18 / 12
KIND_BUSYNESS = (1.6, 0.8, 0.5, 0.3, 0.4)  # relative share of the timeline per kind of person
SKEW_SIGMA = 1.1  # lognormal spread of activity per person: most a handful, a few thousands
SKEW_CAP = 60  # nobody gets more than this many times the average

# Profile flags, one byte per profile.
GOLFER, CONTACT, MEMBER_ID, PAYS, EMAIL_OPT, SMS_OPT = 1, 2, 4, 8, 16, 32

TAGS = (
    ("Keen golfer", "#2f6f4f"),
    ("Committee", "#6b4f2f"),
    ("Ladies section", "#8a3f6f"),
    ("Junior section", "#2f4f8a"),
    ("Seniors", "#5f5f5f"),
    ("Sponsor", "#b0802f"),
    ("Win-back", "#a33f2f"),
    ("Corporate day", "#2f7f8a"),
)

# Recurring activity per person, by what they are (lifecycle events come on top), per 100.
GOLF = (
    ("teetime", "booking.created", 30.0),
    ("teetime", "booking.checked_in", 26.0),
    ("teetime", "booking.cancelled", 2.5),
    ("teetime", "booking.no_show", 1.2),
)
ROUND_WEIGHT = 26.0  # round.completed: counted per profile so rounds_played matches the timeline
MEMBERSHIP = (
    ("scl", "payment.received", 9.0),
    ("scl", "payment.failed", 0.4),
    ("scl", "membership.renewed", 0.8),
    ("scl", "membership.tier_changed", 0.1),
    ("scl", "member.updated", 0.4),
)
MESSAGING = (
    ("messaging", "message.sent", 12.0),
    ("messaging", "message.delivered", 11.5),
    ("messaging", "message.opened", 6.0),
    ("messaging", "message.clicked", 1.6),
    ("messaging", "message.bounced", 0.2),
    ("messaging", "message.unsubscribed", 0.05),
)

DAY = 86400.0
WINDOW = 3 * 365 * DAY  # activities spread over the last three years
BLOCK = 2_000  # profiles whose activities are generated together and written in time order


class _NoDraft:
    """The pipeline's handlers change a profile draft; here the profile is written separately."""

    def offer(self, *args, **kwargs):
        return False

    def offer_many(self, *args, **kwargs):
        pass

    def increment(self, *args, **kwargs):
        pass

    def keep_latest(self, *args, **kwargs):
        pass


class ActivityWriter:
    """Summary, properties and amount per activity, from `crm.events.apply`'s own handlers.

    Handlers are called with the event's (validated) data; results that only depend on a few
    values (a campaign, a tier's fee, a score) are cached, so most rows cost a dict lookup."""

    def __init__(self, club: Club, now: float):
        self.club, self.now = club, now
        self.rng: random.Random  # set per block of people
        self.cache: dict[tuple, tuple[str, str, Decimal | None]] = {}
        self.draft = _NoDraft()

    def handler(self, type_name: str, source: str, data: dict, at=None) -> tuple[str, Decimal | None]:
        applying = apply.Applying(
            club=self.club,
            row=None,
            data=data,
            at=at,
            source=source,
            draft=self.draft,
            phone=None,
            tournaments={},
        )
        outcome = apply.PERSON_HANDLERS[type_name](applying)
        return outcome if isinstance(outcome, tuple) else (outcome, None)

    def cached(self, key: tuple, source: str, data: dict, properties: dict | None = None):
        hit = self.cache.get(key)
        if hit is None:
            summary, amount = self.handler(key[0], source, data)
            hit = self.cache[key] = (summary[:300], json.dumps(properties or {}), amount)
        return hit

    def lifecycle(self, type_name: str, at: float, kind: int, tier: int, flags: int, handicap: int):
        if type_name == "member.created":
            status = "prospect" if kind == PROSPECT else "active"
            tier_name = TIERS[tier - 1] if tier else None
            data = {"status": status, "tier": tier_name}
            return self.cached((type_name, status, tier_name), "scl", data, {"status": status, "tier": tier_name})
        if type_name == "player.created":
            index = Decimal(handicap) / 10
            data = {"handicap_index": index, "home_course": COURSES[0]}
            return self.cached((type_name, handicap), "teetime", data, {**data, "handicap_index": str(index)})
        if type_name == "contact.created":
            return self.cached((type_name,), "messaging", {})
        if type_name == "consent.updated":
            channels = {"email": bool(flags & EMAIL_OPT), "sms": bool(flags & SMS_OPT), "whatsapp": False}
            key = (type_name, channels["email"], channels["sms"])
            return self.cached(key, "messaging", {"channels": channels}, {"channels": channels})
        if type_name == "membership.lapsed":
            on = day_of(at)
            return self.cached((type_name, on), "scl", {"lapsed_on": on}, {"lapsed_on": on.isoformat()})
        reason = ("Relocating", "Joined another club", "Cost", "")[self.rng.randrange(4)]
        return self.cached((type_name, reason), "scl", {"reason": reason}, {"reason": reason} if reason else {})

    def round(self):
        rng = self.rng
        course = COURSES[0] if rng.random() < 0.75 else COURSES[1]
        holes = 18 if course == COURSES[0] else 9
        gross = rng.randint(72, 108) if holes == 18 else rng.randint(36, 54)
        points = max(8, (36 - (gross - 84) // 2) * holes // 18 + rng.randint(-3, 3))
        data = {"course": course, "holes": holes, "gross_score": gross, "stableford_points": points}
        return self.cached(("round.completed", course, gross, points), "teetime", data, data)

    def recurring(self, type_name: str, at: float, kind: int, tier: int):
        """(occurred_at, summary, properties JSON, amount) for one recurring activity."""
        rng = self.rng
        if type_name.startswith("booking."):
            # Tee times on the ten-minute grid between 06:00 and 15:50 club time.
            day = (at + CLUB_UTC_OFFSET) // DAY
            tee = day * DAY + (6 * 3600 + rng.randrange(60) * 600) - CLUB_UTC_OFFSET
            course = COURSES[0] if rng.random() < 0.75 else COURSES[1]
            data = {"tee_time": datetime.fromtimestamp(tee, UTC), "course": course}
            if type_name == "booking.created":
                at = min(at, tee - DAY * (1 + rng.random() * 9))
                data["players"] = rng.randint(1, 4)
                if kind in (VISITOR, PROSPECT):
                    data["amount"] = Decimal(650)
            else:
                at = {"booking.checked_in": tee - 900, "booking.no_show": tee + 3600}.get(type_name, tee - DAY)
                at = min(at, self.now)
            summary, amount = self.handler(type_name, "teetime", data)
            holes = 18 if course == COURSES[0] else 9
            properties = PROPERTY_CACHE.get((course, holes))
            if properties is None:
                properties = PROPERTY_CACHE[course, holes] = json.dumps({"course": course, "holes": holes})
            return at, summary, properties, amount
        if type_name.startswith("message."):
            campaign_id, subject = CAMPAIGNS[rng.randrange(len(CAMPAIGNS))]
            data = {"channel": "email", "campaign_id": campaign_id, "message_id": campaign_id}
            if type_name == "message.sent":
                data["subject"] = subject
            elif type_name == "message.clicked":
                data["url"] = f"https://demo.fairway.example/{campaign_id}"
            elif type_name == "message.bounced":
                data["reason"] = "Mailbox does not exist"
            properties = {"channel": "email", "campaign_id": campaign_id}
            return (at, *self.cached((type_name, campaign_id), "messaging", data, properties))
        tier_name = TIERS[tier - 1] if tier else TIERS[0]
        fee = Decimal(TIER_FEES[tier_name])
        if type_name == "payment.received":
            data = {"amount": fee, "currency": "ZAR", "description": "Monthly subscription"}
            return (at, *self.cached((type_name, tier_name), "scl", data, {**data, "amount": str(fee)}))
        if type_name == "payment.failed":
            data = {"amount": fee, "currency": "ZAR", "reason": "Card declined"}
            return (at, *self.cached((type_name, tier_name), "scl", data, {**data, "amount": str(fee)}))
        if type_name == "membership.renewed":
            renewal = day_of(at) + timedelta(days=365)
            data = {"renewal_on": renewal, "amount": fee * 12}
            properties = {"renewal_on": renewal.isoformat(), "amount": str(fee * 12)}
            return (at, *self.cached((type_name, renewal, tier_name), "scl", data, properties))
        if type_name == "membership.tier_changed":
            others = [name for name in TIERS if name != tier_name]
            new_tier = others[rng.randrange(len(others))]
            data = {"tier": new_tier, "previous_tier": tier_name}
            return (at, *self.cached((type_name, tier_name, new_tier), "scl", data, data))
        changed = rng.randrange(len(MEMBER_UPDATES))
        return (at, *self.cached((type_name, changed), "scl", MEMBER_UPDATES[changed]))


PROPERTY_CACHE: dict[tuple, str] = {}
HANDICAPS = tuple(Decimal(tenths) / 10 for tenths in range(361))
# What member.updated events carry (the summary names the fields; properties stay {}).
MEMBER_UPDATES = ({"phone": "+27820000000"}, {"email": "new@example.com"}, {"address": {"line": "1 Fairway Drive"}})
FINAL_TYPES = frozenset({"membership.lapsed", "membership.resigned"})
# Seconds after a person's first appearance at which each system introduces them.
LIFECYCLE_OFFSET = {"member.created": 0, "player.created": 60, "contact.created": 120, "consent.updated": 300}


def lifecycle_types(kind: int, flags: int) -> list[tuple[str, str]]:
    """The one-off events that introduce a person to each system and end a membership, most
    telling first: a person with fewer activities than these keeps the first ones."""
    types = []
    if flags & MEMBER_ID:
        types.append(("scl", "member.created"))
    if kind == LAPSED:
        types.append(("scl", "membership.lapsed"))
    elif kind == RESIGNED:
        types.append(("scl", "membership.resigned"))
    if flags & GOLFER:
        types.append(("teetime", "player.created"))
    if flags & CONTACT:
        types += [("messaging", "contact.created"), ("messaging", "consent.updated")]
    return types


def mix_key(flags: int) -> int:
    return flags & (GOLFER | CONTACT | PAYS)


def _mixes() -> tuple[dict[int, tuple[list, list]], dict[int, float]]:
    mixes, round_share = {}, {}
    for key in range((GOLFER | CONTACT | PAYS) + 1):
        parts = (
            (GOLF if key & GOLFER else ()) + (MEMBERSHIP if key & PAYS else ()) + (MESSAGING if key & CONTACT else ())
        )
        parts = parts or MEMBERSHIP
        weights = [weight for _, _, weight in parts]
        total = sum(weights) + (ROUND_WEIGHT if key & GOLFER else 0)
        cum, running = [], 0.0
        for weight in weights:
            running += weight
            cum.append(running)
        mixes[key] = ([(source, type_name) for source, type_name, _ in parts], cum)
        round_share[key] = ROUND_WEIGHT / total if key & GOLFER else 0.0
    return mixes, round_share


MIXES, ROUND_SHARE = _mixes()


def identifier_count(flags: int, phone: int) -> int:
    count = 1 + bool(phone) + bool(flags & MEMBER_ID) + bool(flags & CONTACT)
    return count + bool(flags & GOLFER) + bool(flags & GOLFER and flags & PAYS)


def birthday(rng: random.Random) -> date:
    return date(1945 + rng.randrange(63), 1 + rng.randrange(12), 1 + rng.randrange(28))


def zeros(code: str, length: int) -> array:
    return array(code, bytes(array(code).itemsize * length))


def day_of(seconds: float) -> date:
    return datetime.fromtimestamp(seconds, UTC).date()


def email_of(index: int, first: int, last: int, domain: int) -> str:
    return f"{FIRST_NAMES[first]}.{LAST_NAMES[last]}{index}@{DOMAINS[domain]}".lower().replace(" ", "")


def phone_of(national: int) -> str:
    return f"+27{national}" if national else ""


def stamper():
    """epoch seconds → aware datetime, the type COPY adapts without guessing."""
    from_timestamp = datetime.fromtimestamp

    def stamp(seconds: float) -> datetime:
        return from_timestamp(seconds, UTC)

    return stamp
