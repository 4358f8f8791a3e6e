"""Segment rules: the registry's operators on every field type, groups, activities, tags,
relative dates in the club's timezone, birthdays, one query per evaluation, and the validator
(path-pointing errors) agreeing with the published JSON Schema."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import jsonschema
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketing.services.rules.compiler import InvalidRule, rule_member_ids, rule_queryset
from marketing.services.rules.fields import FIELDS
from marketing.services.rules.grammar import rule_json_schema, rule_validate
from tests.factories import ActivityFactory, ProfileFactory, ProfileTagFactory, TagFactory

SCHEMA = jsonschema.Draft202012Validator(rule_json_schema())
NOW = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 23:30 in Johannesburg, 21:30 in London


def names(club, rule, now=NOW) -> list[str]:
    return sorted(rule_queryset(club=club, rule=rule, now=now).values_list("first_name", flat=True))


@pytest.fixture
def people(club_a):
    ann = ProfileFactory(
        club=club_a,
        first_name="Ann",
        last_name="Smith",
        primary_email="ann@alpha.test",
        membership_status="active",
        membership_tier="Gold",
        handicap_index=Decimal("8.4"),
        rounds_played=40,
        email_opt_in=True,
        date_of_birth=date(1980, 11, 25),
        membership_renewal_on=date(2026, 12, 10),
        last_round_at=NOW - timedelta(days=3),
        engagement_score=80,
    )
    bob = ProfileFactory(
        club=club_a,
        first_name="Bob",
        last_name="van der Merwe",
        primary_email="bob@alpha.test",
        membership_status="lapsed",
        membership_tier="Silver",
        handicap_index=Decimal("22.0"),
        rounds_played=2,
        date_of_birth=date(1975, 1, 2),
        last_round_at=NOW - timedelta(days=200),
    )
    cat = ProfileFactory(
        club=club_a,
        first_name="Cat",
        last_name="Jones",
        primary_email="",
        membership_status="",
        membership_tier="",
        handicap_index=None,
        rounds_played=0,
    )
    return ann, bob, cat


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # text
        ({"field": "tier", "op": "eq", "value": "gold"}, ["Ann"]),
        ({"field": "tier", "op": "neq", "value": "Gold"}, ["Bob", "Cat"]),
        ({"field": "tier", "op": "in", "value": ["Gold", "Silver"]}, ["Ann", "Bob"]),
        ({"field": "tier", "op": "not_in", "value": ["Gold"]}, ["Bob", "Cat"]),
        ({"field": "last_name", "op": "contains", "value": "der"}, ["Bob"]),
        ({"field": "last_name", "op": "starts_with", "value": "jo"}, ["Cat"]),
        ({"field": "email", "op": "is_set"}, ["Ann", "Bob"]),
        ({"field": "email", "op": "is_not_set"}, ["Cat"]),
        # choice
        ({"field": "membership_status", "op": "eq", "value": "active"}, ["Ann"]),
        ({"field": "membership_status", "op": "in", "value": ["active", "lapsed"]}, ["Ann", "Bob"]),
        ({"field": "membership_status", "op": "is_not_set"}, ["Cat"]),
        # number
        ({"field": "handicap", "op": "lt", "value": 10}, ["Ann"]),
        ({"field": "handicap", "op": "gte", "value": 8.4}, ["Ann", "Bob"]),
        ({"field": "handicap", "op": "between", "value": [20, 25]}, ["Bob"]),
        ({"field": "handicap", "op": "is_not_set"}, ["Cat"]),
        ({"field": "rounds_played", "op": "eq", "value": 0}, ["Cat"]),
        ({"field": "rounds_played", "op": "neq", "value": 0}, ["Ann", "Bob"]),
        ({"field": "rounds_played", "op": "gt", "value": 2}, ["Ann"]),
        ({"field": "rounds_played", "op": "lte", "value": 2}, ["Bob", "Cat"]),
        # boolean
        ({"field": "email_opt_in", "op": "eq", "value": True}, ["Ann"]),
        ({"field": "email_opt_in", "op": "eq", "value": False}, ["Bob", "Cat"]),
        # date
        ({"field": "date_of_birth", "op": "lt", "value": "1979-01-01"}, ["Bob"]),
        ({"field": "date_of_birth", "op": "between", "value": ["1980-01-01", "1980-12-31"]}, ["Ann"]),
        ({"field": "renewal_on", "op": "within_next_days", "value": 30}, ["Ann"]),
        ({"field": "renewal_on", "op": "within_next_days", "value": 10}, []),
        ({"field": "date_of_birth", "op": "is_set"}, ["Ann", "Bob"]),
        # datetime
        ({"field": "last_round_at", "op": "within_last_days", "value": 7}, ["Ann"]),
        ({"field": "last_round_at", "op": "more_than_days_ago", "value": 90}, ["Bob"]),
        ({"field": "last_round_at", "op": "eq", "value": "2026-11-20"}, ["Ann"]),
        ({"field": "last_round_at", "op": "lte", "value": "2026-11-20"}, ["Ann", "Bob"]),
        ({"field": "last_round_at", "op": "gt", "value": "2026-11-20"}, []),
        ({"field": "last_round_at", "op": "is_not_set"}, ["Cat"]),
        # score
        ({"field": "engagement_score", "op": "gte", "value": 50}, ["Ann"]),
    ],
)
def test_field_operators(club_a, people, rule, expected):
    assert names(club_a, rule) == expected


def test_every_registry_operator_compiles_and_runs(club_a, people):
    samples = {"text": "x", "number": 1, "boolean": True, "date": "2026-01-01", "datetime": "2026-01-01"}
    for field in FIELDS.values():
        sample = field.choices[0] if field.type == "choice" else samples[field.type]
        for op in field.operators:
            rule = {"field": field.name, "op": op}
            if op in ("in", "not_in"):
                rule["value"] = [sample]
            elif op == "between":
                rule["value"] = [sample, sample]
            elif op in ("within_last_days", "more_than_days_ago", "within_next_days"):
                rule["value"] = 30
            elif op not in ("is_set", "is_not_set"):
                rule["value"] = sample
            assert rule_validate(rule) == [], rule
            SCHEMA.validate(rule)
            rule_queryset(club=club_a, rule=rule, now=NOW).count()  # runs on this database


def test_groups_and_not_nest(club_a, people):
    rule = {
        "any": [
            {"all": [{"field": "tier", "op": "eq", "value": "Gold"}, {"field": "handicap", "op": "lt", "value": 5}]},
            {
                "not": {
                    "any": [
                        {"field": "membership_status", "op": "is_set"},
                        {"field": "rounds_played", "op": "gt", "value": 5},
                    ]
                }
            },
        ]
    }
    assert names(club_a, rule) == ["Cat"]


def test_activity_conditions_count_window_and_properties(club_a, people):
    ann, bob, cat = people
    for days in (2, 10, 20):
        ActivityFactory(
            profile=ann, type="round.completed", occurred_at=NOW - timedelta(days=days), properties={"course": "North"}
        )
    ActivityFactory(
        profile=bob, type="round.completed", occurred_at=NOW - timedelta(days=5), properties={"course": "South"}
    )
    ActivityFactory(
        profile=bob, type="round.completed", occurred_at=NOW - timedelta(days=100), properties={"course": "North"}
    )

    def activity(**spec):
        return names(club_a, {"activity": {"type": "round.completed", **spec}})

    assert activity() == ["Ann", "Bob"]
    assert activity(count={"op": "gte", "value": 3}, within_last_days=30) == ["Ann"]
    assert activity(count={"op": "gte", "value": 2}) == ["Ann", "Bob"]
    assert activity(count={"op": "eq", "value": 0}) == ["Cat"]
    assert activity(count={"op": "lt", "value": 2}) == ["Cat"]
    assert activity(count={"op": "eq", "value": 1}, within_last_days=30) == ["Bob"]
    assert activity(properties={"course": "North"}, within_last_days=30) == ["Ann"]
    assert activity(properties={"course": "North"}) == ["Ann", "Bob"]
    assert activity(within_last_days=3) == ["Ann"]


CLUB_WIDE_SHAPES = [
    {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 2}, "within_last_days": 30}},
    {"all": [
        {"field": "membership_status", "op": "in", "value": ["active", "lapsed"]},
        {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 1}, "within_last_days": 30}},
        {"activity": {"type": "booking.created", "count": {"op": "gte", "value": 1}, "within_last_days": 30}},
    ]},
    {"all": [
        {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 1}, "within_last_days": 30}},
        {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3}, "within_last_days": 60}},
    ]},
    {"all": [
        {"field": "tier", "op": "eq", "value": "Gold"},
        {"activity": {"type": "round.completed", "count": {"op": "eq", "value": 0}, "within_last_days": 7}},
    ]},
    {"activity": {"type": "round.completed", "within_last_days": 30, "properties": {"course": "North"}}},
    {"any": [
        {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3}, "within_last_days": 30}},
        {"not": {"activity": {"type": "booking.created", "within_last_days": 30}}},
    ]},
    {"activity": {"type": "round.completed", "count": {"op": "lt", "value": 2}, "within_last_days": 30}},
]


@pytest.mark.parametrize("rule", CLUB_WIDE_SHAPES)
def test_the_club_wide_shape_finds_the_same_people_as_the_per_profile_shape(club_a, people, rule):
    # The full refresh and the preview count use rule_member_ids (joined and grouped); everything
    # else uses rule_queryset (a probe per profile). They must agree on every rule.
    ann, bob, cat = people
    for days in (2, 10, 20, 45):
        ActivityFactory(profile=ann, type="round.completed", occurred_at=NOW - timedelta(days=days),
                        properties={"course": "North"})
    ActivityFactory(profile=bob, type="round.completed", occurred_at=NOW - timedelta(days=5))
    ActivityFactory(profile=bob, type="booking.created", occurred_at=NOW - timedelta(days=6))
    ActivityFactory(profile=cat, type="booking.created", occurred_at=NOW - timedelta(days=40))
    per_profile = set(rule_queryset(club=club_a, rule=rule, now=NOW).values_list("pk", flat=True))
    club_wide = set(rule_member_ids(club=club_a, rule=rule, now=NOW).values_list("member", flat=True))
    assert club_wide == per_profile


def test_tags_match_whatever_the_case(club_a, people):
    ann, _, _ = people
    ProfileTagFactory(profile=ann, tag=TagFactory(club=club_a, name="Winter League"))
    assert names(club_a, {"tag": "winter  league"}) == ["Ann"]
    assert names(club_a, {"not": {"tag": "Winter League"}}) == ["Bob", "Cat"]


def test_relative_days_start_at_midnight_in_the_clubs_timezone(club_a, club_b):
    # 21:30 UTC on the 23rd is already the 23rd in both zones; one hour earlier than midnight
    # in Johannesburg (UTC+2) the 22nd 22:30 UTC is the 23rd there but still the 22nd in London.
    late = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)
    for club in (club_a, club_b):
        ProfileFactory(club=club, first_name="Edge", last_round_at=datetime(2026, 11, 22, 21, 45, tzinfo=UTC))
    rule = {"field": "last_round_at", "op": "within_last_days", "value": 0}  # today, in the club's zone
    club_a.timezone = "Africa/Johannesburg"
    assert names(club_a, rule, now=late) == []  # 23:45 on the 22nd there; it is now the 23rd
    assert names(club_b, rule, now=late) == ["Edge"]  # London: 21:45 and 22:30 are both the 22nd


def test_birthdays_in_the_next_days_wrap_the_year(club_a, people):
    assert names(club_a, {"birthday": {"within_next_days": 7}}) == ["Ann"]  # 25 Nov, two days out
    new_year = datetime(2026, 12, 28, 12, tzinfo=UTC)
    assert names(club_a, {"birthday": {"within_next_days": 7}}, now=new_year) == ["Bob"]  # 2 Jan
    ProfileFactory(club=club_a, first_name="Leap", date_of_birth=date(2004, 2, 29))
    feb = datetime(2027, 2, 27, 12, tzinfo=UTC)
    assert names(club_a, {"birthday": {"within_next_days": 1}}, now=feb) == ["Leap"]  # 2027 has no 29th


def test_one_query_per_evaluation(club_a, people):
    rule = {
        "all": [
            {"field": "tier", "op": "in", "value": ["Gold", "Silver"]},
            {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3}, "within_last_days": 30}},
            {"not": {"tag": "Staff"}},
            {"birthday": {"within_next_days": 30}},
        ]
    }
    with CaptureQueriesContext(connection) as captured:
        rule_queryset(club=club_a, rule=rule, now=NOW).count()
    assert len(captured) == 1


def test_rules_never_reach_another_club(club_a, club_b, people):
    ProfileFactory(club=club_b, first_name="Other", membership_tier="Gold")
    assert names(club_b, {"field": "tier", "op": "eq", "value": "Gold"}) == ["Other"]
    assert names(club_a, {"field": "tier", "op": "eq", "value": "Gold"}) == ["Ann"]


@pytest.mark.parametrize(
    ("rule", "path", "words"),
    [
        ({"field": "shoe_size", "op": "eq", "value": 9}, "$.field", "Unknown field"),
        ({"field": "tier", "op": "gt", "value": "Gold"}, "$.op", "takes one of"),
        ({"field": "handicap", "op": "lt", "value": "ten"}, "$.value", "number"),
        ({"field": "membership_status", "op": "eq", "value": "gold"}, "$.value", "is one of"),
        ({"field": "email", "op": "is_set", "value": "x"}, "$.value", "takes no value"),
        ({"field": "handicap", "op": "between", "value": [1]}, "$.value", "[low, high]"),
        ({"field": "renewal_on", "op": "within_next_days", "value": -1}, "$.value", "days"),
        ({"all": []}, "$.all", "non-empty"),
        ({"all": [{"tag": "ok"}, {"any": [{"bogus": 1}]}]}, "$.all[1].any[0]", "Unknown condition"),
        ({"not": {"activity": {"type": "Round Completed"}}}, "$.not.activity.type", "event type"),
        (
            {"activity": {"type": "round.completed", "count": {"op": "gte", "value": -2}}},
            "$.activity.count.value",
            "whole",
        ),
        (
            {"activity": {"type": "round.completed", "properties": {"Course-Name": "x"}}},
            "$.activity.properties",
            "property",
        ),
        ({"birthday": {"within_next_days": 400}}, "$.birthday.within_next_days", "0–366"),
        ({"segment": "Gold members"}, "$.segment", "segment id"),
        ("gold members", "$", "Expected a condition"),
    ],
)
def test_invalid_rules_say_where_and_why(club_a, rule, path, words):
    errors = rule_validate(rule)
    assert errors and errors[0].path == path and words in errors[0].message, errors
    with pytest.raises(InvalidRule):
        rule_queryset(club=club_a, rule=rule)
    with pytest.raises(jsonschema.ValidationError):
        SCHEMA.validate(rule)


def test_the_schema_accepts_what_the_validator_accepts():
    rule = {
        "all": [
            {"field": "tier", "op": "in", "value": ["Gold"]},
            {"any": [{"tag": "VIP"}, {"segment": 3}, {"not": {"birthday": {"within_next_days": 7}}}]},
            {"activity": {"type": "message.opened", "count": {"op": "eq", "value": 0}, "within_last_days": 90}},
            {"activity": {"type": "round.completed", "properties": {"course": "North", "holes": 18}}},
        ]
    }
    assert rule_validate(rule) == []
    SCHEMA.validate(rule)
