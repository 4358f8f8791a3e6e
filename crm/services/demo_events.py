"""A believable golf club told as the events SCL, TeeTime and Messaging would send about it.

`demo_club_events` is deterministic for a given seed and day: the same people, the same event ids,
so seeding twice stores every event once (the second run is all duplicates). The people are a
club's usual mix: active members across tiers (keen golfers, casual ones, a few going quiet),
lapsed and resigned members, prospects who only exist in Messaging, and visitors who booked a
round without joining, some of whom Messaging knows by the same email. Tournaments, payments,
campaign messages with opens and clicks, and consent complete the picture.
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

FIRST_NAMES = [
    "Thabo",
    "Sipho",
    "Lerato",
    "Naledi",
    "Pieter",
    "Johan",
    "Anika",
    "Marike",
    "Liam",
    "Emma",
    "Noah",
    "Olivia",
    "Ethan",
    "Ava",
    "Zanele",
    "Kagiso",
    "Palesa",
    "Ruan",
    "Chloe",
    "Daniel",
    "Grace",
    "Michael",
    "Sarah",
    "David",
    "Jessica",
    "Themba",
    "Ayanda",
    "Francois",
    "Carla",
    "Jacques",
    "Megan",
    "Bongani",
    "Nomvula",
    "Willem",
    "Elsa",
    "James",
    "Kate",
    "Tebogo",
    "Refilwe",
    "Hendrik",
    "Lindiwe",
    "Andile",
    "Sibusiso",
    "Priya",
    "Ravi",
    "Aisha",
    "Yusuf",
    "Mei",
    "Chen",
]
LAST_NAMES = (
    "Nkosi",
    "Dlamini",
    "van der Merwe",
    "Botha",
    "Smith",
    "Naidoo",
    "Mokoena",
    "Pretorius",
    "Khumalo",
    "Jacobs",
    "Williams",
    "du Plessis",
    "Ndlovu",
    "Steyn",
    "Mahlangu",
    "Coetzee",
    "Pillay",
    "Sithole",
    "Venter",
    "Brown",
    "Mthembu",
    "Fourie",
    "Zulu",
    "Ferreira",
    "Molefe",
    "Kruger",
    "Taylor",
    "Nel",
    "Govender",
    "Meyer",
    "Adams",
    "Petersen",
    "Baloyi",
    "Visser",
    "Wilson",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example")
TIERS = (("Full", 45), ("Weekday", 20), ("Senior", 15), ("Junior", 8), ("Corporate", 7), ("Social", 5))
TIER_FEES = {"Full": 1450, "Weekday": 980, "Senior": 890, "Junior": 420, "Corporate": 2100, "Social": 310}
COURSES = ("Championship", "Lakes nine")
CAMPAIGNS = (
    ("cmp-newsletter-aug", "Club news: August", 110),
    ("cmp-spring-open", "You're invited: the Spring Open", 80),
    ("cmp-newsletter-oct", "Club news: October", 50),
    ("cmp-twilight", "Twilight golf is back: R250 after 4pm", 30),
    ("cmp-renewal", "Your membership renews soon", 12),
)
TOURNAMENTS = (
    # id, name, days from today, format, entries (0 = none yet), cancelled
    ("t-winter-classic", "Winter Classic", -120, "stableford", 64, False),
    ("t-club-champs", "Club Championship", -75, "medal", 48, False),
    ("t-mixed-pairs", "Mixed Better-Ball", -40, "better-ball", 40, False),
    ("t-seniors-day", "Seniors' Open Day", -12, "stableford", 36, False),
    ("t-spring-open", "Spring Open", 18, "stableford", 30, False),
    ("t-night-golf", "Glow-ball Night Golf", 9, "scramble", 0, True),
)


@dataclass
class DemoPerson:
    index: int
    kind: str  # member | lapsed | resigned | prospect | visitor
    first_name: str
    last_name: str
    email: str
    phone: str
    member_id: str = ""
    player_id: str = ""
    contact_id: str = ""
    tier: str = ""
    keenness: float = 0.0  # rounds a month when active
    opted_in_email: bool = False


@dataclass
class DemoStory:
    club_slug: str
    now: datetime
    events: list[dict] = field(default_factory=list)
    people: list[DemoPerson] = field(default_factory=list)

    def add(self, event_id: str, source: str, type_name: str, at: datetime, data: dict) -> None:
        at = min(at, self.now)
        self.events.append(
            {
                "id": f"demo-{event_id}",
                "source": source,
                "type": type_name,
                "occurred_at": at.isoformat(),
                "club": self.club_slug,
                "schema_version": 1,
                "data": {key: value for key, value in data.items() if value not in ("", None)},
            }
        )


def demo_club_events(*, club_slug: str, profiles: int, seed: int = 7, today: date | None = None) -> list[dict]:
    """About `profiles` people's events plus the club's tournaments, oldest first."""
    return demo_club_story(club_slug=club_slug, profiles=profiles, seed=seed, today=today).events


def demo_club_story(*, club_slug: str, profiles: int, seed: int = 7, today: date | None = None) -> DemoStory:
    """The people and their events (the benchmark needs to know who is who)."""
    today = today or datetime.now(UTC).date()
    now = datetime.combine(today, time(6, 0), tzinfo=UTC)
    rng = random.Random(seed)
    story = DemoStory(club_slug=club_slug, now=now)
    story.people = [_person(rng, index) for index in range(profiles)]
    for person in story.people:
        _person_story(rng, story, person)
    _campaigns(rng, story, story.people)
    _tournaments(rng, story, story.people)
    story.events.sort(key=lambda event: (event["occurred_at"], event["id"]))
    return story


def _person(rng: random.Random, index: int) -> DemoPerson:
    kind = rng.choices(("member", "lapsed", "resigned", "prospect", "visitor"), (55, 12, 3, 18, 12))[0]
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first}.{last}".lower().replace(" ", "")
    person = DemoPerson(
        index=index,
        kind=kind,
        first_name=first,
        last_name=last,
        email=f"{local}{index}@{rng.choice(EMAIL_DOMAINS)}",
        # Local South African format, as the systems really send it; the CRM normalises to E.164.
        phone=f"0{rng.choice((72, 73, 76, 79, 82, 83, 84))} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
    )
    if kind in ("member", "lapsed", "resigned"):
        person.member_id = f"SCL{100000 + index}"
        person.tier = rng.choices([tier for tier, _ in TIERS], [weight for _, weight in TIERS])[0]
    if kind != "prospect" and person.tier != "Social":
        person.player_id = f"TT-{500000 + index}"
        person.keenness = rng.choice((0.2, 0.5, 1, 1.5, 2, 3, 4))
    if kind != "visitor" or rng.random() < 0.4:
        person.contact_id = f"MSG-{900000 + index}"
    person.opted_in_email = bool(person.contact_id) and rng.random() < 0.82
    return person


def _person_story(rng: random.Random, story: DemoStory, person: DemoPerson) -> None:
    now, pid = story.now, f"p{person.index}"
    joined = now - timedelta(days=rng.randint(200, 5000))
    identity = {"first_name": person.first_name, "last_name": person.last_name, "email": person.email}
    active_until = now

    if person.member_id:
        story.add(
            f"{pid}-joined",
            "scl",
            "member.created",
            joined,
            {
                "member_id": person.member_id,
                **identity,
                "phone": person.phone,
                "member_number": f"{person.index + 1:05d}",
                "status": "active",
                "tier": person.tier,
                "joined_on": joined.date().isoformat(),
                "handicap_id": f"HNA{7000000 + person.index}" if person.player_id else "",
                "date_of_birth": date(rng.randint(1950, 2008), rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
            },
        )
        fee = Decimal(TIER_FEES[person.tier])
        last_renewal = now - timedelta(days=rng.randint(20, 330))
        if person.kind == "member":
            renewal_on = (last_renewal + timedelta(days=365)).date()
            story.add(
                f"{pid}-renewed",
                "scl",
                "membership.renewed",
                last_renewal,
                {"member_id": person.member_id, "renewal_on": renewal_on.isoformat(), "amount": str(fee * 12)},
            )
            for month in range(rng.randint(2, 6)):
                paid_at = now - timedelta(days=30 * month + rng.randint(1, 5))
                failed = rng.random() < 0.04
                story.add(
                    f"{pid}-pay{month}",
                    "scl",
                    "payment.failed" if failed else "payment.received",
                    paid_at,
                    {
                        "member_id": person.member_id,
                        "amount": str(fee),
                        "currency": "ZAR",
                        "payment_id": f"PAY-{person.index}-{month}",
                        ("reason" if failed else "description"): "Card declined" if failed else "Monthly subscription",
                    },
                )
            if rng.random() < 0.06:
                new_tier = rng.choice([tier for tier, _ in TIERS if tier != person.tier])
                story.add(
                    f"{pid}-tier",
                    "scl",
                    "membership.tier_changed",
                    now - timedelta(days=rng.randint(5, 90)),
                    {"member_id": person.member_id, "tier": new_tier, "previous_tier": person.tier},
                )
        else:
            active_until = now - timedelta(days=rng.randint(30, 400))
            if person.kind == "lapsed":
                story.add(
                    f"{pid}-lapsed",
                    "scl",
                    "membership.lapsed",
                    active_until,
                    {"member_id": person.member_id, "lapsed_on": active_until.date().isoformat()},
                )
            else:
                story.add(
                    f"{pid}-resigned",
                    "scl",
                    "membership.resigned",
                    active_until,
                    {
                        "member_id": person.member_id,
                        "resigned_on": active_until.date().isoformat(),
                        "reason": rng.choice(("Relocating", "Joined another club", "Cost", "")),
                    },
                )
    elif person.kind == "prospect" and rng.random() < 0.3:
        person.member_id = f"SCL{100000 + person.index}"
        story.add(
            f"{pid}-enquiry",
            "scl",
            "member.created",
            now - timedelta(days=rng.randint(3, 120)),
            {"member_id": person.member_id, **identity, "status": "prospect"},
        )

    if person.player_id:
        registered = joined + timedelta(days=rng.randint(0, 30)) if person.member_id else now - timedelta(days=200)
        handicap = Decimal(rng.randint(0, 360)) / 10
        story.add(
            f"{pid}-player",
            "teetime",
            "player.created",
            registered,
            {
                "player_id": person.player_id,
                "member_id": person.member_id if person.kind != "prospect" else "",
                **identity,
                "phone": person.phone if person.kind == "visitor" else "",
                "handicap_index": str(handicap),
                "home_course": COURSES[0],
            },
        )
        _golf(rng, story, person, start=max(registered, now - timedelta(days=180)), end=active_until)

    if person.contact_id:
        contact_at = now - timedelta(days=rng.randint(120, 900))  # before any campaign
        story.add(
            f"{pid}-contact",
            "messaging",
            "contact.created",
            contact_at,
            {
                "contact_id": person.contact_id,
                # Messaging often knows people only by email; some records carry the SCL link.
                "member_id": person.member_id if rng.random() < 0.5 else "",
                **identity,
            },
        )
        story.add(
            f"{pid}-consent",
            "messaging",
            "consent.updated",
            contact_at + timedelta(minutes=5),
            {
                "contact_id": person.contact_id,
                "channels": {"email": person.opted_in_email, "sms": rng.random() < 0.45, "whatsapp": False},
            },
        )


def _golf(rng: random.Random, story: DemoStory, person: DemoPerson, *, start: datetime, end: datetime) -> None:
    """Bookings, check-ins, rounds, cancellations and no-shows at the person's pace."""
    days = max((end - start).days, 0)
    # Some active members have gone quiet lately: the churn-risk cases marketers look for.
    if person.kind == "member" and rng.random() < 0.15:
        end = end - timedelta(days=rng.randint(60, 150))
        days = max((end - start).days, 0)
    rounds = min(int(days / 30 * person.keenness * rng.uniform(0.6, 1.2)), 24)
    if person.kind == "visitor":
        rounds = rng.randint(1, 3)
    for number in range(rounds):
        # Tee times between 06:00 and 15:50 club time (UTC+2), on the ten-minute interval.
        day = (end - timedelta(days=rng.uniform(0, max(days, 1)))).date()
        tee_time = datetime.combine(day, time(rng.randint(4, 13), rng.choice((0, 10, 20, 30, 40, 50))), tzinfo=UTC)
        booked_at = tee_time - timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 10))
        booking_id = f"B-{person.index}-{number}"
        course = COURSES[0] if rng.random() < 0.75 else COURSES[1]
        holes = 18 if course == COURSES[0] else 9
        base = {"player_id": person.player_id, "booking_id": booking_id}
        timed = {**base, "tee_time": tee_time.isoformat()}
        story.add(
            f"bk{person.index}-{number}",
            "teetime",
            "booking.created",
            booked_at,
            {
                **timed,
                "course": course,
                "players": rng.randint(1, 4),
                "holes": holes,
                "amount": "0" if person.member_id and person.kind != "prospect" else "650",
            },
        )
        if tee_time >= story.now:
            continue
        roll = rng.random()
        if roll < 0.06:
            story.add(
                f"bk{person.index}-{number}-x", "teetime", "booking.cancelled", booked_at + timedelta(hours=6), timed
            )
            continue
        if roll < 0.09:
            story.add(
                f"bk{person.index}-{number}-ns", "teetime", "booking.no_show", tee_time + timedelta(hours=1), timed
            )
            continue
        story.add(
            f"bk{person.index}-{number}-in", "teetime", "booking.checked_in", tee_time - timedelta(minutes=15), timed
        )
        gross = rng.randint(72, 108) if holes == 18 else rng.randint(36, 54)
        story.add(
            f"rd{person.index}-{number}",
            "teetime",
            "round.completed",
            tee_time + timedelta(hours=holes // 4 - 0.5, minutes=rng.randint(0, 50)),
            {
                "player_id": person.player_id,
                "round_id": f"R-{person.index}-{number}",
                "course": course,
                "holes": holes,
                "gross_score": gross,
                "stableford_points": max(8, (36 - (gross - 84) // 2) * holes // 18 + rng.randint(-3, 3)),
            },
        )


def _campaigns(rng: random.Random, story: DemoStory, people: list[DemoPerson]) -> None:
    """Each campaign goes to whoever had opted in to email; opens, clicks and the odd bounce follow."""
    for campaign_id, subject, days_ago in CAMPAIGNS:
        sent_at = story.now - timedelta(days=days_ago, hours=-8)
        audience = [person for person in people if person.opted_in_email]
        if campaign_id == "cmp-renewal":
            audience = [person for person in audience if person.kind == "member"][: max(len(audience) // 6, 1)]
        for person in audience:
            message_id = f"{campaign_id}-{person.index}"
            base = {
                "contact_id": person.contact_id,
                "message_id": message_id,
                "channel": "email",
                "campaign_id": campaign_id,
            }
            prefix = f"{campaign_id}-{person.index}"
            story.add(f"{prefix}-sent", "messaging", "message.sent", sent_at, {**base, "subject": subject})
            if rng.random() < 0.02:
                story.add(
                    f"{prefix}-bounce",
                    "messaging",
                    "message.bounced",
                    sent_at + timedelta(minutes=2),
                    {**base, "bounce_type": "hard", "reason": "Mailbox does not exist"},
                )
                continue
            story.add(f"{prefix}-dlv", "messaging", "message.delivered", sent_at + timedelta(minutes=1), base)
            engagement = 0.65 if person.kind == "member" else 0.3
            if rng.random() < engagement:
                opened_at = sent_at + timedelta(hours=rng.uniform(0.2, 48))
                story.add(f"{prefix}-open", "messaging", "message.opened", opened_at, base)
                if rng.random() < 0.3:
                    story.add(
                        f"{prefix}-click",
                        "messaging",
                        "message.clicked",
                        opened_at + timedelta(minutes=rng.randint(1, 20)),
                        {**base, "url": f"https://demo.fairway.example/{campaign_id}"},
                    )
            elif rng.random() < 0.006:
                person.opted_in_email = False
                story.add(f"{prefix}-unsub", "messaging", "message.unsubscribed", sent_at + timedelta(hours=30), base)


def _tournaments(rng: random.Random, story: DemoStory, people: list[DemoPerson]) -> None:
    golfers = [person for person in people if person.player_id and person.kind == "member"]
    for tournament_id, name, day, game_format, entries, cancelled in TOURNAMENTS:
        starts_at = (story.now + timedelta(days=day)).replace(hour=7, minute=30)
        published = min(starts_at - timedelta(days=45), story.now - timedelta(days=1))
        story.add(
            f"{tournament_id}-created",
            "teetime",
            "tournament.created",
            published,
            {
                "tournament_id": tournament_id,
                "name": name,
                "starts_at": starts_at.isoformat(),
                "ends_at": (starts_at + timedelta(hours=9)).isoformat(),
                "entry_deadline": (starts_at - timedelta(days=3)).isoformat(),
                "capacity": 72 if game_format != "scramble" else 40,
                "format": game_format,
                "description": f"{name} on the {COURSES[0]} course. Prize-giving and dinner afterwards.",
            },
        )
        if cancelled:
            story.add(
                f"{tournament_id}-cancelled",
                "teetime",
                "tournament.cancelled",
                published + timedelta(days=10),
                {"tournament_id": tournament_id, "reason": "Course maintenance"},
            )
            continue
        field_ = rng.sample(golfers, min(entries, len(golfers)))
        for position, person in enumerate(field_):
            story.add(
                f"{tournament_id}-entry-{person.index}",
                "teetime",
                "tournament.entry_created",
                published + timedelta(days=rng.randint(1, 40)),
                {"tournament_id": tournament_id, "player_id": person.player_id, "entry_id": f"E-{position}"},
            )
        if starts_at < story.now and field_:
            story.add(
                f"{tournament_id}-results",
                "teetime",
                "tournament.results_published",
                starts_at + timedelta(hours=10),
                {
                    "tournament_id": tournament_id,
                    "results": [
                        {"player_id": person.player_id, "position": position + 1, "score": 44 - position // 2}
                        for position, person in enumerate(field_)
                    ],
                },
            )


@dataclass
class SeedProgress:
    sent: int
    total: int
    counts: dict[str, int]


def demo_club_seed(*, club, profiles: int, seed: int = 7, batch_size: int = 500, on_progress=None) -> dict[str, int]:
    """Sign the demo club's events as each source would and POST them to `/api/v1/events`.

    Goes through the real endpoint (signature check, validation, store, processing task), so what
    the newcomer sees is what the pipeline made. Batches are one source's events in
    time windows, as the three systems would push them. Returns the endpoint's counts.
    """
    import json

    from django.test import Client

    from crm.events.signatures import signature_header

    secrets = {source: demo_signing_secret(club=club, source=source) for source in ("scl", "teetime", "messaging")}
    events = demo_club_events(club_slug=club.slug, profiles=profiles, seed=seed)
    client = Client(HTTP_HOST="localhost")
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    sent = 0
    for batch in demo_source_batches(events, batch_size):
        body = json.dumps(batch).encode()
        response = client.post(
            "/api/v1/events",
            data=body,
            content_type="application/json",
            HTTP_X_SIGNATURE=signature_header(secret=secrets[batch[0]["source"]], body=body),
        )
        if response.status_code != 202:
            raise RuntimeError(f"The events endpoint answered {response.status_code}: {response.content[:500]!r}")
        for key in totals:
            totals[key] += response.json()[key]
        sent += len(batch)
        if on_progress:
            on_progress(SeedProgress(sent=sent, total=len(events), counts=dict(totals)))
    return totals


def demo_signing_secret(*, club, source: str) -> str:
    """The seeder's own secret per source, made once and reused (it is readable to the server)."""
    from crm.events.replay import signing_secret_create
    from crm.kernel.actor import Actor
    from crm.models import EventSigningSecret

    existing = EventSigningSecret.objects.for_club(club).filter(source=source, label=DEMO_SECRET_LABEL, is_active=True)
    if secret := existing.first():
        return secret.secret
    _, value = signing_secret_create(club=club, source=source, label=DEMO_SECRET_LABEL, actor=Actor.system())
    return value


DEMO_SECRET_LABEL = "Demo seeder"


def demo_source_batches(events: list[dict], batch_size: int):
    """Time windows of events, each split by source: the sources push concurrently, so a window
    arrives as one batch per source (slightly out of order across sources, which the pipeline's
    survivorship handles) instead of thousands of tiny alternating posts."""
    window = batch_size * 3
    for start in range(0, len(events), window):
        by_source: dict[str, list[dict]] = {}
        for event in events[start : start + window]:
            by_source.setdefault(event["source"], []).append(event)
        for batch in by_source.values():
            for offset in range(0, len(batch), batch_size):
                yield batch[offset : offset + batch_size]
