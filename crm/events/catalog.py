"""The event catalog: every type each source may send, its required and optional `data`.

This module is the single source of truth: validation reads it, processing dispatches on it, and
`docs/events.md` is generated from it (`manage.py events_catalog --write`; a test fails when the
file is stale).
"""

from dataclasses import dataclass, field

from crm.events.fields import BOOLEAN, DATE, DATETIME, DECIMAL, EMAIL, INTEGER, PHONE, Field, described, string

SOURCES = ("scl", "teetime", "messaging")
SCHEMA_VERSIONS = (1,)
CHANNELS = ("email", "sms", "push", "whatsapp")
MEMBERSHIP_STATUSES = ("prospect", "active", "suspended", "lapsed", "resigned")


@dataclass(frozen=True)
class EventType:
    source: str
    name: str
    description: str
    required: dict[str, Field] = field(default_factory=dict)
    optional: dict[str, Field] = field(default_factory=dict)
    is_about_a_person: bool = True  # False: a club-level event (a tournament), no profile or timeline

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.name


ADDRESS = Field(
    "object",
    "Postal address: line, city, postcode, country (ISO alpha-2).",
    fields={
        "line": string(max_length=200),
        "city": string(max_length=100),
        "postcode": string(max_length=20),
        "country": string(max_length=2),
    },
)

PERSON = {
    "first_name": string(max_length=100),
    "last_name": string(max_length=100),
    "email": EMAIL,
    "phone": PHONE,
    "date_of_birth": DATE,
    "gender": string(choices=("female", "male", "other", "undisclosed")),
    "address": ADDRESS,
    "locale": string("e.g. en-ZA", max_length=10),
    "timezone": string("IANA name, e.g. Africa/Johannesburg", max_length=64),
}

MEMBER_ID = {"member_id": string("SCL member id (strong key).", max_length=100)}
PLAYER_ID = {"player_id": string("TeeTime player id (strong key).", max_length=100)}
CONTACT_ID = {"contact_id": string("Messaging contact id (strong key).", max_length=100)}
CROSS_LINKS = {
    "handicap_id": string("National golf registration number (strong key).", max_length=100),
}

MEMBER_FIELDS = {
    **PERSON,
    **CROSS_LINKS,
    "member_number": string(max_length=40),
    "status": string(choices=MEMBERSHIP_STATUSES),
    "tier": string(max_length=40),
    "joined_on": DATE,
    "renewal_on": DATE,
}

PLAYER_FIELDS = {
    **PERSON,
    **CROSS_LINKS,
    "member_id": string("SCL member id when TeeTime knows it: links the two systems.", max_length=100),
    "handicap_index": DECIMAL,
    "home_course": string(max_length=100),
}

MESSAGE = {
    **CONTACT_ID,
    "message_id": string(max_length=100),
    "channel": string(choices=CHANNELS),
}
MESSAGE_OPTIONAL = {
    "campaign_id": string(max_length=100),
    "journey_id": string(max_length=100),
    "subject": string(max_length=300),
    "template_id": string(max_length=100),
    "email": EMAIL,
    "phone": PHONE,
}

BOOKING = {**PLAYER_ID, "booking_id": string(max_length=100)}
TOURNAMENT = {"tournament_id": string(max_length=100)}
TOURNAMENT_DETAILS = {
    "name": string(max_length=200),
    "starts_at": DATETIME,
    "ends_at": DATETIME,
    "entry_deadline": DATETIME,
    "capacity": INTEGER,
    "format": string("e.g. stableford, medal, better-ball", max_length=60),
    "handicap_min": DECIMAL,
    "handicap_max": DECIMAL,
    "description": string(max_length=2000),
}

CATALOG: tuple[EventType, ...] = (
    # --- SCL (membership) -----------------------------------------------------------------
    EventType(
        "scl",
        "member.created",
        "A person joined the club's membership system (member or prospect).",
        required=MEMBER_ID,
        optional=MEMBER_FIELDS,
    ),
    EventType("scl", "member.updated", "Member details changed in SCL.", required=MEMBER_ID, optional=MEMBER_FIELDS),
    EventType(
        "scl",
        "membership.renewed",
        "Membership renewed; status becomes active.",
        required={**MEMBER_ID, "renewal_on": described(DATE, "The new renewal date.")},
        optional={"tier": string(max_length=40), "amount": DECIMAL, "currency": string(max_length=3)},
    ),
    EventType(
        "scl", "membership.lapsed", "Membership lapsed (not renewed).", required={**MEMBER_ID, "lapsed_on": DATE}
    ),
    EventType(
        "scl",
        "membership.tier_changed",
        "Membership tier changed.",
        required={**MEMBER_ID, "tier": string(max_length=40)},
        optional={"previous_tier": string(max_length=40)},
    ),
    EventType(
        "scl",
        "membership.suspended",
        "Membership suspended.",
        required=MEMBER_ID,
        optional={"reason": string(max_length=300)},
    ),
    EventType(
        "scl",
        "membership.resigned",
        "Member resigned.",
        required=MEMBER_ID,
        optional={"resigned_on": DATE, "reason": string(max_length=300)},
    ),
    EventType(
        "scl",
        "payment.received",
        "A payment was received.",
        required={**MEMBER_ID, "amount": DECIMAL},
        optional={
            "payment_id": string(max_length=100),
            "currency": string(max_length=3),
            "description": string(max_length=300),
        },
    ),
    EventType(
        "scl",
        "payment.failed",
        "A payment failed (declined card, returned debit order).",
        required={**MEMBER_ID, "amount": DECIMAL},
        optional={
            "payment_id": string(max_length=100),
            "currency": string(max_length=3),
            "reason": string(max_length=300),
        },
    ),
    # --- TeeTime (golf) -------------------------------------------------------------------
    EventType(
        "teetime", "player.created", "A golfer was registered in TeeTime.", required=PLAYER_ID, optional=PLAYER_FIELDS
    ),
    EventType(
        "teetime", "player.updated", "Golfer details changed in TeeTime.", required=PLAYER_ID, optional=PLAYER_FIELDS
    ),
    EventType(
        "teetime",
        "booking.created",
        "A tee time was booked.",
        required={**BOOKING, "tee_time": described(DATETIME, "When the round starts.")},
        optional={"course": string(max_length=100), "players": INTEGER, "holes": INTEGER, "amount": DECIMAL},
    ),
    EventType(
        "teetime",
        "booking.cancelled",
        "A booking was cancelled.",
        required=BOOKING,
        optional={"tee_time": DATETIME, "reason": string(max_length=300)},
    ),
    EventType(
        "teetime",
        "booking.checked_in",
        "The player checked in for a booking.",
        required=BOOKING,
        optional={"tee_time": DATETIME},
    ),
    EventType(
        "teetime",
        "booking.no_show",
        "The player did not turn up for a booking.",
        required=BOOKING,
        optional={"tee_time": DATETIME},
    ),
    EventType(
        "teetime",
        "round.completed",
        "A round was completed and scored.",
        required={**PLAYER_ID, "round_id": string(max_length=100)},
        optional={
            "course": string(max_length=100),
            "holes": INTEGER,
            "gross_score": INTEGER,
            "stableford_points": INTEGER,
            "handicap_index": described(DECIMAL, "The player's handicap index after the round."),
        },
    ),
    EventType(
        "teetime",
        "tournament.created",
        "A tournament or club event was published.",
        required={**TOURNAMENT, "name": string(max_length=200), "starts_at": DATETIME},
        optional=TOURNAMENT_DETAILS,
        is_about_a_person=False,
    ),
    EventType(
        "teetime",
        "tournament.updated",
        "Tournament details changed.",
        required=TOURNAMENT,
        optional=TOURNAMENT_DETAILS,
        is_about_a_person=False,
    ),
    EventType(
        "teetime",
        "tournament.cancelled",
        "A tournament was cancelled.",
        required=TOURNAMENT,
        optional={"reason": string(max_length=300)},
        is_about_a_person=False,
    ),
    EventType(
        "teetime",
        "tournament.entry_created",
        "A player entered a tournament.",
        required={**PLAYER_ID, **TOURNAMENT},
        optional={"entry_id": string(max_length=100)},
    ),
    EventType(
        "teetime",
        "tournament.results_published",
        "Results were published; each placed player gets a timeline entry.",
        required={**TOURNAMENT, "results": Field("list", "List of {player_id, position, score}.")},
        is_about_a_person=False,
    ),
    # --- Messaging ------------------------------------------------------------------------
    EventType(
        "messaging",
        "contact.created",
        "A contact was created in the Messaging service.",
        required=CONTACT_ID,
        optional={**PERSON, "member_id": string(max_length=100), "player_id": string(max_length=100)},
    ),
    EventType(
        "messaging",
        "contact.updated",
        "Contact details changed in the Messaging service.",
        required=CONTACT_ID,
        optional={**PERSON, "member_id": string(max_length=100), "player_id": string(max_length=100)},
    ),
    EventType(
        "messaging",
        "consent.updated",
        "Opt-in flags changed. The only way consent changes in the CRM.",
        required={
            **CONTACT_ID,
            "channels": Field(
                "object",
                'Channel → opted in, e.g. {"email": true, "sms": false}.',
                fields={channel: BOOLEAN for channel in CHANNELS},
            ),
        },
        optional={"email": EMAIL, "phone": PHONE},
    ),
    EventType("messaging", "message.sent", "A message was sent.", required=MESSAGE, optional=MESSAGE_OPTIONAL),
    EventType(
        "messaging", "message.delivered", "A message was delivered.", required=MESSAGE, optional=MESSAGE_OPTIONAL
    ),
    EventType("messaging", "message.opened", "A message was opened.", required=MESSAGE, optional=MESSAGE_OPTIONAL),
    EventType(
        "messaging",
        "message.clicked",
        "A link in a message was clicked.",
        required=MESSAGE,
        optional={**MESSAGE_OPTIONAL, "url": string(max_length=2000)},
    ),
    EventType(
        "messaging",
        "message.bounced",
        "A message bounced.",
        required=MESSAGE,
        optional={
            **MESSAGE_OPTIONAL,
            "bounce_type": string(choices=("hard", "soft")),
            "reason": string(max_length=300),
        },
    ),
    EventType(
        "messaging",
        "message.unsubscribed",
        "The person unsubscribed; the channel's opt-in turns off.",
        required=MESSAGE,
        optional=MESSAGE_OPTIONAL,
    ),
    EventType(
        "messaging",
        "message.complained",
        "The person marked a message as spam; the channel's opt-in turns off.",
        required=MESSAGE,
        optional=MESSAGE_OPTIONAL,
    ),
)

CATALOG_BY_KEY: dict[tuple[str, str], EventType] = {event_type.key: event_type for event_type in CATALOG}
