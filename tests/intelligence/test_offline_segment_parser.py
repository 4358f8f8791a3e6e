"""The offline parser: a table of common phrasings and the trees they become (each of which the
grammar accepts), the SPEC 8.1 sentence, and refusals that say what was and wasn't understood."""

from datetime import date

import pytest

from intelligence.services.offline_segment_parser import (
    SUPPORTED_PHRASINGS,
    SegmentTextNotUnderstood,
    offline_segment_parse,
)
from marketing.services.rules.grammar import rule_validate

TODAY = date(2026, 11, 23)  # a Monday
TIERS = ("Gold", "Silver", "Junior Gold")
TAGS = ("Winter League", "Staff")


def parse(text: str) -> dict:
    return offline_segment_parse(text, today=TODAY, tiers=TIERS, tags=TAGS)


def rounds(**spec) -> dict:
    return {"activity": {"type": "round.completed", **spec}}


def emails_opened(**spec) -> dict:
    return {"activity": {"type": "message.opened", **spec, "properties": {"channel": "email"}}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # tiers and statuses, in the club's spelling
        ("gold members", {"field": "tier", "op": "eq", "value": "Gold"}),
        ("Gold or silver members", {"field": "tier", "op": "in", "value": ["Gold", "Silver"]}),
        ("gold and silver members", {"field": "tier", "op": "in", "value": ["Gold", "Silver"]}),
        ("junior gold members", {"field": "tier", "op": "eq", "value": "Junior Gold"}),
        ("platinum members", {"field": "tier", "op": "eq", "value": "Platinum"}),
        ("active members", {"field": "membership_status", "op": "eq", "value": "active"}),
        ("lapsed or suspended members", {"field": "membership_status", "op": "in", "value": ["lapsed", "suspended"]}),
        (
            "lapsed gold members",
            {
                "all": [
                    {"field": "membership_status", "op": "eq", "value": "lapsed"},
                    {"field": "tier", "op": "eq", "value": "Gold"},
                ]
            },
        ),
        # rounds
        ("played at least 3 rounds in the last 30 days", rounds(within_last_days=30, count={"op": "gte", "value": 3})),
        ("played more than 10 rounds in the last month", rounds(within_last_days=30, count={"op": "gt", "value": 10})),
        ("played 3+ rounds in the past 2 weeks", rounds(within_last_days=14, count={"op": "gte", "value": 3})),
        ("played five rounds this year", rounds(within_last_days=326, count={"op": "gte", "value": 5})),
        ("played a round this week", rounds(within_last_days=0)),
        ("played in the last 7 days", rounds(within_last_days=7)),
        ("members who hasn't played in 60 days", {"not": rounds(within_last_days=60)}),
        ("haven't played a round in 3 months", {"not": rounds(within_last_days=90)}),
        ("have not played since March", {"not": rounds(within_last_days=267)}),
        ("never played", {"not": rounds()}),
        # bookings and no-shows
        ("booked a tee time in the last 2 weeks", {"activity": {"type": "booking.created", "within_last_days": 14}}),
        ("haven't booked in 30 days", {"not": {"activity": {"type": "booking.created", "within_last_days": 30}}}),
        ("no-show in the last 90 days", {"activity": {"type": "booking.no_show", "within_last_days": 90}}),
        ("at least 2 no-shows", {"activity": {"type": "booking.no_show", "count": {"op": "gte", "value": 2}}}),
        ("didn't show up in the last 30 days", {"activity": {"type": "booking.no_show", "within_last_days": 30}}),
        # emails
        ("opened an email in the last 30 days", emails_opened(within_last_days=30)),
        ("haven't opened an email since June", {"not": emails_opened(within_last_days=175)}),
        (
            "opened at least 3 emails in the last 90 days",
            emails_opened(within_last_days=90, count={"op": "gte", "value": 3}),
        ),
        (
            "clicked a link in an email in the last 14 days",
            {"activity": {"type": "message.clicked", "within_last_days": 14, "properties": {"channel": "email"}}},
        ),
        ("clicked", {"activity": {"type": "message.clicked"}}),
        ("entered a tournament this year", {"activity": {"type": "tournament.entry_created", "within_last_days": 326}}),
        # birthdays and renewals
        ("birthday this week", {"birthday": {"within_next_days": 7}}),
        ("members whose birthday is in the next 10 days", {"birthday": {"within_next_days": 10}}),
        ("birthday today", {"birthday": {"within_next_days": 0}}),
        ("renewal within 30 days", {"field": "renewal_on", "op": "within_next_days", "value": 30}),
        ("due for renewal in the next 2 weeks", {"field": "renewal_on", "op": "within_next_days", "value": 14}),
        # tags, joining, handicap, consent
        ("tagged winter league", {"tag": "Winter League"}),
        ('members with the tag "Winter and summer"', {"tag": "Winter and summer"}),
        ("not tagged staff", {"not": {"tag": "Staff"}}),
        ("joined in the last 90 days", {"field": "joined_on", "op": "within_last_days", "value": 90}),
        ("joined since January", {"field": "joined_on", "op": "within_last_days", "value": 326}),
        ("handicap under 10", {"field": "handicap", "op": "lt", "value": 10}),
        ("members with a handicap over 20.5", {"field": "handicap", "op": "gt", "value": 20.5}),
        ("opted in to email", {"field": "email_opt_in", "op": "eq", "value": True}),
        ("not opted in to sms", {"field": "sms_opt_in", "op": "eq", "value": False}),
        # other ways of saying it
        ("missed a tee time in the last 30 days", {"activity": {"type": "booking.no_show", "within_last_days": 30}}),
        ("checked in this month", {"activity": {"type": "booking.checked_in", "within_last_days": 22}}),
        ("opened a message in the last 7 days", {"activity": {"type": "message.opened", "within_last_days": 7}}),
        ("members who played golf in the last fortnight", rounds(within_last_days=14)),
        ("played ever", rounds()),
        ("birthday tomorrow", {"birthday": {"within_next_days": 1}}),
        ("birthday this month", {"birthday": {"within_next_days": 7}}),  # to 30 November
        ("renewing this month", {"field": "renewal_on", "op": "within_next_days", "value": 7}),
        ("handicap at most 12", {"field": "handicap", "op": "lte", "value": 12}),
        ("prospects", {"field": "membership_status", "op": "eq", "value": "prospect"}),
        # combinations
        (
            "Gold members whose renewal is due within 45 days and who haven't booked in 60 days",
            {
                "all": [
                    {"field": "tier", "op": "eq", "value": "Gold"},
                    {"field": "renewal_on", "op": "within_next_days", "value": 45},
                    {"not": {"activity": {"type": "booking.created", "within_last_days": 60}}},
                ]
            },
        ),
        (
            "senior members, tagged VIP, renewal in the next 30 days",
            {
                "all": [
                    {"field": "tier", "op": "eq", "value": "Senior"},
                    {"tag": "VIP"},
                    {"field": "renewal_on", "op": "within_next_days", "value": 30},
                ]
            },
        ),
        (
            "active members who booked in the last 30 days but had a no-show",
            {
                "all": [
                    {"field": "membership_status", "op": "eq", "value": "active"},
                    {"activity": {"type": "booking.created", "within_last_days": 30}},
                    {"activity": {"type": "booking.no_show"}},
                ]
            },
        ),
    ],
)
def test_common_phrasings_become_valid_trees(text, expected):
    assert rule_validate(expected) == []
    assert parse(text) == expected


def test_the_spec_sentence():
    rule = parse("gold members who played at least 3 rounds in the last month but haven't opened an email since June")
    assert rule == {
        "all": [
            {"field": "tier", "op": "eq", "value": "Gold"},
            rounds(within_last_days=30, count={"op": "gte", "value": 3}),
            {"not": emails_opened(within_last_days=175)},  # 1 June to 23 November
        ]
    }
    assert rule_validate(rule) == []


def test_since_a_later_month_means_last_year():
    rule = offline_segment_parse("joined since December", today=date(2026, 3, 10))
    assert rule["value"] == (date(2026, 3, 10) - date(2025, 12, 1)).days


@pytest.mark.parametrize(
    ("text", "understood", "not_understood"),
    [
        ("people who like pizza", [], ["like pizza"]),
        ("gold members who like pizza", ["gold members"], ["like pizza"]),
        ("new members", [], ["new members"]),
        ("members", [], []),
        ("played at least 3 rounds in the last 50 years", [], ["played at least 3 rounds in the last 50 years"]),
    ],
)
def test_unknown_phrasings_are_refused_saying_what_was_understood(text, understood, not_understood):
    with pytest.raises(SegmentTextNotUnderstood) as raised:
        parse(text)
    error = raised.value
    assert error.details["understood"] == understood
    assert error.details["not_understood"] == not_understood
    assert error.details["supported_phrasings"] == list(SUPPORTED_PHRASINGS)
    assert "docs/ai-segments.md" in error.message
    for part in not_understood:
        assert part in error.message


def test_every_documented_phrasing_example_parses():
    """The examples in SUPPORTED_PHRASINGS (and docs/ai-segments.md) are real: each one parses."""
    for line in SUPPORTED_PHRASINGS:
        for example in line.split(" / "):
            example = example.split(" (")[0]
            if example.startswith(("in the last", "this year", "since", "birthday in", "due for")):
                continue  # continuations of the line's first example, not sentences
            assert rule_validate(parse(example)) == [], example
