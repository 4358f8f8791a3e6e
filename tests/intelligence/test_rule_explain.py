"""rule_explain: every node kind of the grammar in plain words, deterministically, with the
registry's labels; invalid trees are refused rather than explained."""

import pytest

from marketing.services.rules.compiler import InvalidRule
from marketing.services.rules.explain import rule_explain


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # fields: every operator family
        ({"field": "tier", "op": "eq", "value": "Gold"}, "Membership tier is Gold"),
        ({"field": "tier", "op": "neq", "value": "Gold"}, "Membership tier is not Gold"),
        ({"field": "tier", "op": "in", "value": ["Gold", "Silver"]}, "Membership tier is one of Gold, Silver"),
        ({"field": "tier", "op": "not_in", "value": ["Gold"]}, "Membership tier is none of Gold"),
        ({"field": "last_name", "op": "contains", "value": "der"}, 'Last name contains "der"'),
        ({"field": "email", "op": "starts_with", "value": "ann"}, 'Email starts with "ann"'),
        ({"field": "email", "op": "is_set"}, "Email is known"),
        ({"field": "date_of_birth", "op": "is_not_set"}, "Date of birth is unknown"),
        ({"field": "membership_status", "op": "eq", "value": "active"}, "Membership status is Active"),
        (
            {"field": "lifecycle_stage", "op": "in", "value": ["at_risk", "lapsed"]},
            "Lifecycle stage is one of At risk, Lapsed",
        ),
        ({"field": "handicap", "op": "lt", "value": 10}, "Handicap index is less than 10"),
        ({"field": "handicap", "op": "gte", "value": 8.4}, "Handicap index is at least 8.4"),
        ({"field": "rounds_played", "op": "gt", "value": 5}, "Rounds played is more than 5"),
        ({"field": "rounds_played", "op": "lte", "value": 2}, "Rounds played is at most 2"),
        ({"field": "handicap", "op": "between", "value": [20, 25]}, "Handicap index is between 20 and 25"),
        ({"field": "email_opt_in", "op": "eq", "value": True}, "Email consent is yes"),
        ({"field": "sms_opt_in", "op": "eq", "value": False}, "SMS consent is no"),
        ({"field": "date_of_birth", "op": "lt", "value": "1979-01-01"}, "Date of birth is before 1 January 1979"),
        ({"field": "joined_on", "op": "gte", "value": "2026-06-30"}, "Joined on is on or after 30 June 2026"),
        ({"field": "last_round_at", "op": "eq", "value": "2026-11-20"}, "Last round is on 20 November 2026"),
        (
            {"field": "renewal_on", "op": "between", "value": ["2026-01-01", "2026-06-30"]},
            "Renewal date is between 1 January 2026 and 30 June 2026",
        ),
        ({"field": "last_round_at", "op": "within_last_days", "value": 7}, "Last round is within the last 7 days"),
        ({"field": "last_round_at", "op": "within_last_days", "value": 0}, "Last round is today"),
        ({"field": "last_round_at", "op": "more_than_days_ago", "value": 90}, "Last round is more than 90 days ago"),
        ({"field": "renewal_on", "op": "within_next_days", "value": 1}, "Renewal date is within the next 1 day"),
        # activities: count, window, properties
        ({"activity": {"type": "round.completed"}}, "At least 1 completed round"),
        (
            {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3}, "within_last_days": 30}},
            "At least 3 completed rounds in the last 30 days",
        ),
        ({"activity": {"type": "booking.no_show", "count": {"op": "eq", "value": 1}}}, "Exactly 1 no-show"),
        ({"activity": {"type": "booking.no_show", "count": {"op": "lt", "value": 2}}}, "Fewer than 2 no-shows"),
        ({"activity": {"type": "booking.created", "count": {"op": "lte", "value": 4}}}, "At most 4 tee-time bookings"),
        ({"activity": {"type": "message.opened", "count": {"op": "eq", "value": 0}}}, "No message opened"),
        ({"activity": {"type": "message.clicked", "within_last_days": 0}}, "At least 1 message clicked today"),
        (
            {"activity": {"type": "round.completed", "properties": {"course": "North", "holes": 18, "walked": True}}},
            'At least 1 completed round where course is "North" and holes is 18 and walked is true',
        ),
        ({"activity": {"type": "consent.updated"}}, 'At least 1 "consent.updated" activity'),
        (
            {"activity": {"type": "consent.updated", "count": {"op": "gt", "value": 2}}},
            'More than 2 "consent.updated" activities',
        ),
        # tags, segments, birthdays
        ({"tag": "Winter League"}, 'Tagged "Winter League"'),
        ({"segment": 7}, 'In the segment "Juniors"'),
        ({"segment": 8}, "In the segment #8"),
        ({"birthday": {"within_next_days": 7}}, "Birthday within the next 7 days"),
        ({"birthday": {"within_next_days": 0}}, "Birthday today"),
        # not: activity counts turned round, tags and segments read naturally, the rest bracketed
        (
            {"not": {"activity": {"type": "round.completed", "within_last_days": 60}}},
            "No completed round in the last 60 days",
        ),
        (
            {"not": {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3}}}},
            "Fewer than 3 completed rounds",
        ),
        (
            {"not": {"activity": {"type": "round.completed", "count": {"op": "eq", "value": 2}}}},
            "Not (exactly 2 completed rounds)",
        ),
        ({"not": {"tag": "Staff"}}, 'Not tagged "Staff"'),
        ({"not": {"segment": 7}}, 'Not in the segment "Juniors"'),
        ({"not": {"field": "tier", "op": "eq", "value": "Gold"}}, "Not (Membership tier is Gold)"),
        ({"not": {"birthday": {"within_next_days": 7}}}, "Not (birthday within the next 7 days)"),
        ({"not": {"not": {"tag": "Staff"}}}, 'Tagged "Staff"'),
        # groups: top level unbracketed, nested bracketed, a single child unwrapped
        ({"all": [{"tag": "A"}]}, 'Tagged "A"'),
        ({"any": [{"tag": "A"}, {"tag": "B"}]}, 'Tagged "A", or tagged "B"'),
        (
            {"all": [{"tag": "A"}, {"any": [{"tag": "B"}, {"tag": "C"}]}]},
            'Tagged "A", and (tagged "B", or tagged "C")',
        ),
        (
            {"not": {"any": [{"tag": "B"}, {"tag": "C"}]}},
            'Not (tagged "B", or tagged "C")',
        ),
    ],
)
def test_every_node_kind_reads_as_plain_words(rule, expected):
    assert rule_explain(rule, segment_names={7: "Juniors"}) == expected


def test_the_spec_example_reads_as_the_marketer_said_it():
    rule = {
        "all": [
            {"field": "tier", "op": "in", "value": ["Gold"]},
            {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3}, "within_last_days": 30}},
            {
                "not": {
                    "activity": {"type": "message.opened", "within_last_days": 175, "properties": {"channel": "email"}}
                }
            },
        ]
    }
    assert rule_explain(rule) == (
        "Membership tier is one of Gold, and at least 3 completed rounds in the last 30 days, and no message "
        'opened in the last 175 days where channel is "email"'
    )
    assert rule_explain(rule) == rule_explain(rule)  # deterministic


def test_an_invalid_tree_is_refused_not_explained():
    with pytest.raises(InvalidRule):
        rule_explain({"field": "shoe_size", "op": "eq", "value": 9})
