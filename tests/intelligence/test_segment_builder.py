"""The AI segment builder end to end: the real SDK reaches the fake Messages API, the grammar goes
out as the forced tool's schema, the model's tree is validated, explained and previewed against
real profiles — and nothing is ever saved, whatever the model answers."""

from datetime import UTC, date, datetime, timedelta

import jsonschema
import pytest

from intelligence.llm import LlmBadOutput, LlmUnavailable
from intelligence.services.segment_builder import (
    SegmentTextNotUnderstood,
    segment_draft_from_text,
    segment_rule_tool_schema,
)
from marketing.models import Segment
from marketing.services.rules.fields import ACTIVITY_TYPES
from marketing.services.rules.grammar import rule_json_schema
from tests.factories import ActivityFactory, ProfileFactory, ProfileTagFactory, SegmentFactory, TagFactory

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SENTENCE = "gold members who played at least 3 rounds in the last month but haven't opened an email since June"
SPEC_RULE = {
    "all": [
        {"field": "tier", "op": "eq", "value": "Gold"},
        {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3}, "within_last_days": 30}},
        {"not": {"activity": {"type": "message.opened", "within_last_days": 175, "properties": {"channel": "email"}}}},
    ]
}


def segments_everywhere() -> int:
    """Every club's segments: nothing may be saved anywhere."""
    return Segment.objects.unscoped_across_clubs().count()


@pytest.fixture
def golfers(club_a):
    """Ann matches the SPEC sentence; Bob opened an email in July; Cat is Silver; Dan played once."""
    ann = ProfileFactory(club=club_a, first_name="Ann", membership_tier="Gold")
    bob = ProfileFactory(club=club_a, first_name="Bob", membership_tier="Gold")
    cat = ProfileFactory(club=club_a, first_name="Cat", membership_tier="Silver")
    dan = ProfileFactory(club=club_a, first_name="Dan", membership_tier="Gold")
    for profile in (ann, bob, cat):
        for days in (2, 9, 16):
            ActivityFactory(profile=profile, type="round.completed", occurred_at=NOW - timedelta(days=days))
    ActivityFactory(profile=dan, type="round.completed", occurred_at=NOW - timedelta(days=3))
    ActivityFactory(
        profile=bob,
        type="message.opened",
        source="messaging",
        occurred_at=datetime(2026, 7, 14, 9, tzinfo=UTC),
        properties={"contact_id": "c1", "message_id": "m1", "channel": "email"},
    )
    ActivityFactory(  # an SMS opened is not an email opened
        profile=ann,
        type="message.opened",
        source="messaging",
        occurred_at=datetime(2026, 8, 1, 9, tzinfo=UTC),
        properties={"contact_id": "c2", "message_id": "m2", "channel": "sms"},
    )
    return ann, bob, cat, dan


def test_the_tool_schema_is_an_object_that_accepts_exactly_the_grammar():
    tool = jsonschema.Draft202012Validator(segment_rule_tool_schema())
    grammar = jsonschema.Draft202012Validator(rule_json_schema())
    assert segment_rule_tool_schema()["type"] == "object"
    for rule in (SPEC_RULE, {"tag": "VIP"}, {"field": "shoe_size", "op": "eq", "value": 9}, {"all": []}):
        assert tool.is_valid({"rule": rule}) == grammar.is_valid(rule)
    assert not tool.is_valid({})
    # Except that the model may only name the catalog's activity types (a stored rule may hold others).
    invented = {"activity": {"type": "round.complete"}}
    assert grammar.is_valid(invented) and not tool.is_valid({"rule": invented})


def test_a_sentence_becomes_a_previewed_draft_via_the_model(fake_anthropic, club_a, golfers):
    ann, *_ = golfers
    fake_anthropic.script({"tool_input": {"rule": SPEC_RULE}, "usage": {"input_tokens": 9000, "output_tokens": 150}})
    segments_before = segments_everywhere()

    draft = segment_draft_from_text(club=club_a, text=SENTENCE, now=NOW)

    assert draft.source == "llm" and draft.rule == SPEC_RULE
    assert draft.count == 1 and [profile.pk for profile in draft.sample] == [ann.pk]
    assert draft.explanation == (
        "Membership tier is Gold, and at least 3 completed rounds in the last 30 days, and no message opened "
        'in the last 175 days where channel is "email"'
    )
    assert draft.model == "claude-sonnet-5-5"
    assert (draft.usage.input_tokens, draft.usage.output_tokens) == (9000, 150)
    assert segments_everywhere() == segments_before


def test_the_request_carries_the_grammar_as_the_forced_tool(fake_anthropic, club_a, golfers):
    TagFactory(club=club_a, name="Winter League")
    fake_anthropic.script({"tool_input": {"rule": {"tag": "Winter League"}}})
    segment_draft_from_text(club=club_a, text="winter league players", now=NOW)
    (request,) = fake_anthropic.recorded_requests()
    body = request["body"]
    assert body["tool_choice"] == {"type": "tool", "name": "segment_rule"}
    (tool,) = body["tools"]
    assert tool["name"] == "segment_rule"
    assert tool["input_schema"] == segment_rule_tool_schema()
    expected = rule_json_schema()["$defs"]  # the grammar, with the catalog's activity types listed
    expected["activity"]["properties"]["activity"]["properties"]["type"]["enum"] = list(ACTIVITY_TYPES)
    assert tool["input_schema"]["$defs"] == expected
    assert body["messages"] == [{"role": "user", "content": "winter league players"}]
    system = body["system"]
    assert "Africa/Johannesburg" in system and "2026-11-23" in system  # the club's zone and today
    assert "round.completed" in system and "message.opened" in system  # the catalog's activity types
    assert "Gold, Silver" in system and "Winter League" in system  # the club's tiers and tags


def test_the_prompt_lists_only_this_clubs_names(fake_anthropic, club_a, club_b, golfers):
    ProfileFactory(club=club_b, membership_tier="Bravo Platinum")
    TagFactory(club=club_b, name="Bravo secret")
    SegmentFactory(club=club_b, name="Bravo VIPs", rule={"tag": "x"})
    fake_anthropic.script({"tool_input": {"rule": {"field": "tier", "op": "eq", "value": "Gold"}}})
    segment_draft_from_text(club=club_a, text="gold members", now=NOW)
    system = fake_anthropic.recorded_requests()[0]["body"]["system"]
    assert "Bravo" not in system


@pytest.mark.parametrize(
    ("tool_input", "paths"),
    [
        ({"rule": {"field": "shoe_size", "op": "eq", "value": 9}}, ["$.field"]),
        ({"rule": {"field": "tier", "op": "gt", "value": "Gold"}}, ["$.op"]),
        (
            {"rule": {"all": [{"field": "handicap", "op": "lt", "value": "ten"}, {"activity": {"type": "Rounds"}}]}},
            ["$.all[0].value", "$.all[1].activity.type"],
        ),
        ({"rule": {"any": [{"tag": "VIP"}, {"segment": 999999}]}}, ["$.any[1].segment"]),
        ({"answer": "gold members"}, ["$"]),
    ],
)
def test_invalid_model_output_is_a_clear_error_naming_every_path(fake_anthropic, club_a, golfers, tool_input, paths):
    fake_anthropic.script({"tool_input": tool_input})
    segments_before = segments_everywhere()
    with pytest.raises(LlmBadOutput) as raised:
        segment_draft_from_text(club=club_a, text="some audience", now=NOW)
    error = raised.value
    assert [item["path"] for item in error.errors] == paths
    assert all(item["message"] for item in error.errors)
    assert paths[0] in error.message
    assert error.details["errors"] == error.errors
    assert segments_everywhere() == segments_before


def test_another_clubs_segment_id_is_refused(fake_anthropic, club_a, club_b, golfers):
    theirs = SegmentFactory(club=club_b, name="Theirs", rule={"tag": "x"})
    fake_anthropic.script({"tool_input": {"rule": {"segment": theirs.pk}}})
    with pytest.raises(LlmBadOutput) as raised:
        segment_draft_from_text(club=club_a, text="members of theirs", now=NOW)
    assert raised.value.errors == [{"path": "$.segment", "message": f"No segment {theirs.pk} in this club."}]


def test_a_segment_of_this_club_is_named_in_the_explanation(fake_anthropic, club_a, golfers):
    ours = SegmentFactory(club=club_a, name="Juniors", rule={"tag": "Junior"})
    fake_anthropic.script({"tool_input": {"rule": {"not": {"segment": ours.pk}}}})
    draft = segment_draft_from_text(club=club_a, text="everyone but the juniors", now=NOW)
    assert draft.explanation == 'Not in the segment "Juniors"'
    assert draft.count == 4


def test_a_text_only_answer_is_a_clear_error(fake_anthropic, club_a, golfers):
    fake_anthropic.script({"text_only": "Which tier do you mean?"})
    segments_before = segments_everywhere()
    with pytest.raises(LlmBadOutput) as raised:
        segment_draft_from_text(club=club_a, text="the good ones", now=NOW)
    assert "instead of filling in the rule" in raised.value.message
    assert segments_everywhere() == segments_before


def test_a_failing_api_is_unavailable_after_retries(fake_anthropic, club_a, golfers):
    fake_anthropic.script({"status": 500}, {"status": 503})
    with pytest.raises(LlmUnavailable):
        segment_draft_from_text(club=club_a, text=SENTENCE, now=NOW)
    assert len(fake_anthropic.recorded_requests()) == 2


def test_a_timing_out_api_is_unavailable(fake_anthropic, settings, club_a, golfers):
    settings.ANTHROPIC_TIMEOUT_SECONDS = 0.3
    late = {"tool_input": {"rule": SPEC_RULE}, "delay_seconds": 1}
    fake_anthropic.script(late, late)
    with pytest.raises(LlmUnavailable) as raised:
        segment_draft_from_text(club=club_a, text=SENTENCE, now=NOW)
    assert raised.value.details["reason"] == "timeout"


def test_without_a_key_the_spec_sentence_is_parsed_offline(offline, club_a, golfers):
    ann, *_ = golfers
    segments_before = segments_everywhere()
    draft = segment_draft_from_text(club=club_a, text=SENTENCE, now=NOW)
    assert draft.source == "offline" and draft.model is None and draft.usage is None
    assert draft.rule == {
        "all": [
            {"field": "tier", "op": "eq", "value": "Gold"},
            {"activity": {"type": "round.completed", "within_last_days": 30, "count": {"op": "gte", "value": 3}}},
            {
                "not": {
                    "activity": {"type": "message.opened", "within_last_days": 175, "properties": {"channel": "email"}}
                }
            },
        ]
    }
    assert draft.count == 1 and draft.sample == [ann]
    assert segments_everywhere() == segments_before


def test_offline_tags_use_the_clubs_spelling_and_count_only_this_club(offline, club_a, club_b, golfers):
    ann, *_ = golfers
    tag = TagFactory(club=club_a, name="Winter League")
    ProfileTagFactory(profile=ann, tag=tag)
    other = ProfileFactory(club=club_b, membership_tier="Gold")
    ProfileTagFactory(profile=other, tag=TagFactory(club=club_b, name="Winter League"))
    draft = segment_draft_from_text(club=club_a, text="gold members tagged winter league", now=NOW)
    assert draft.rule == {"all": [{"field": "tier", "op": "eq", "value": "Gold"}, {"tag": "Winter League"}]}
    assert draft.count == 1


def test_offline_unknown_text_is_refused_with_what_was_understood(offline, club_a, golfers):
    with pytest.raises(SegmentTextNotUnderstood) as raised:
        segment_draft_from_text(club=club_a, text="gold members who like pizza", now=NOW)
    assert raised.value.details["understood"] == ["gold members"]
    assert raised.value.details["not_understood"] == ["like pizza"]
    assert raised.value.details["supported_phrasings"]


@pytest.mark.parametrize("text", ["", "   ", "x" * 1001])
def test_empty_or_overlong_text_is_refused_before_any_call(fake_anthropic, club_a, text):
    with pytest.raises(SegmentTextNotUnderstood):
        segment_draft_from_text(club=club_a, text=text, now=NOW)
    assert fake_anthropic.recorded_requests() == []


def test_relative_dates_follow_the_clubs_timezone(offline, club_b):
    # 23:30 UTC on 30 June is already 1 July in Auckland: "since June" counts from there.
    late = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    club_b.timezone = "Pacific/Auckland"
    auckland = segment_draft_from_text(club=club_b, text="joined since June", now=late)
    club_b.timezone = "America/New_York"
    new_york = segment_draft_from_text(club=club_b, text="joined since June", now=late)
    assert auckland.rule["value"] == (date(2026, 7, 1) - date(2026, 6, 1)).days
    assert new_york.rule["value"] == (date(2026, 6, 30) - date(2026, 6, 1)).days
