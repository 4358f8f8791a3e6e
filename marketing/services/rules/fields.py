"""The field registry: every field a segment rule may test, declared once.

The validator, the compiler, the JSON Schema (and later the builder page and the AI builder's
tool schema) all read this; adding a segmentable field is one line here.
"""

from dataclasses import dataclass

from crm.events.catalog import CATALOG
from crm.models import Gender, LifecycleStage, MembershipStatus

# Operators by value type. Relative-date operators take a whole number of days.
TEXT_OPERATORS = ("eq", "neq", "in", "not_in", "contains", "starts_with", "is_set", "is_not_set")
CHOICE_OPERATORS = ("eq", "neq", "in", "not_in", "is_set", "is_not_set")
NUMBER_OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "between", "is_set", "is_not_set")
DATE_OPERATORS = (
    "eq",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "is_set",
    "is_not_set",
    "within_last_days",
    "more_than_days_ago",
    "within_next_days",
)
BOOLEAN_OPERATORS = ("eq",)

# How comparisons read, for the builder's menus and the plain-words explanation alike.
OPERATOR_WORDS = {
    "eq": "is",
    "neq": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "contains": "contains",
    "starts_with": "starts with",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
}
COUNT_WORDS = {"gte": "at least", "gt": "more than", "eq": "exactly", "lt": "fewer than", "lte": "at most"}

OPERATORS_BY_TYPE = {
    "text": TEXT_OPERATORS,
    "choice": CHOICE_OPERATORS,
    "number": NUMBER_OPERATORS,
    "date": DATE_OPERATORS,
    "datetime": DATE_OPERATORS,
    "boolean": BOOLEAN_OPERATORS,
}


@dataclass(frozen=True)
class SegmentField:
    name: str  # what rules say: {"field": name, ...}
    type: str  # a key of OPERATORS_BY_TYPE
    label: str
    column: str  # the CustomerProfile field
    choices: tuple[str, ...] = ()
    nullable: bool = False  # stored as NULL when unknown (else "" for text)

    @property
    def operators(self) -> tuple[str, ...]:
        operators = OPERATORS_BY_TYPE[self.type]
        if self.nullable or self.type in ("text", "choice"):
            return operators
        return tuple(op for op in operators if op not in ("is_set", "is_not_set"))  # always set


def _field(name, type_, label, column=None, **options) -> SegmentField:
    return SegmentField(name=name, type=type_, label=label, column=column or name, **options)


FIELDS = {
    field.name: field
    for field in (
        _field("first_name", "text", "First name"),
        _field("last_name", "text", "Last name"),
        _field("email", "text", "Email", "primary_email"),
        _field("phone", "text", "Phone (E.164)", "primary_phone"),
        _field("gender", "choice", "Gender", choices=tuple(Gender.values)),
        _field("city", "text", "City"),
        _field("postcode", "text", "Postcode"),
        _field("country", "text", "Country (ISO code)"),
        _field("date_of_birth", "date", "Date of birth", nullable=True),
        _field("member_number", "text", "Member number"),
        _field("membership_status", "choice", "Membership status", choices=tuple(MembershipStatus.values)),
        _field("tier", "text", "Membership tier", "membership_tier"),
        _field("joined_on", "date", "Joined on", "membership_joined_on", nullable=True),
        _field("renewal_on", "date", "Renewal date", "membership_renewal_on", nullable=True),
        _field("lapsed_on", "date", "Lapsed on", "membership_lapsed_on", nullable=True),
        _field("handicap", "number", "Handicap index", "handicap_index", nullable=True),
        _field("home_course", "text", "Home course"),
        _field("rounds_played", "number", "Rounds played"),
        _field("last_round_at", "datetime", "Last round", nullable=True),
        _field("email_opt_in", "boolean", "Email consent"),
        _field("sms_opt_in", "boolean", "SMS consent"),
        _field("push_opt_in", "boolean", "Push consent"),
        _field("whatsapp_opt_in", "boolean", "WhatsApp consent"),
        _field("lifecycle_stage", "choice", "Lifecycle stage", choices=tuple(LifecycleStage.values)),
        _field("engagement_score", "number", "Engagement score (0–100)", nullable=True),
        _field("churn_risk", "number", "Churn risk (0–1)", nullable=True),
        _field("created_at", "datetime", "Profile created"),
    )
}

# What activity conditions can name: every catalog event that lands on a person's timeline.
ACTIVITY_TYPES = tuple(sorted(event.name for event in CATALOG if event.is_about_a_person))
