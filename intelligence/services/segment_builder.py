"""The AI segment builder (SPEC 8.1): a marketer's sentence becomes a draft segment rule.

With an API key the model is asked to fill in one tool whose input schema is the rule grammar;
without one, the offline parser handles common phrasings. Either way the tree is validated,
explained in plain words and previewed (count + sample) — and nothing is saved: the marketer
confirms and the segment is created by the ordinary segment service.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone

from crm.facade import CATALOG, PERSON, club_membership_tiers, club_tag_names
from intelligence.llm import LlmBadOutput, TokenUsage, is_configured, llm_tool_call
from intelligence.services.offline_segment_parser import SegmentTextNotUnderstood, offline_segment_parse
from marketing.errors import MarketingError
from marketing.selectors import segments_in_order
from marketing.services.rules.fields import ACTIVITY_TYPES, FIELDS
from marketing.services.rules.grammar import rule_conditions, rule_json_schema, rule_validate
from marketing.services.segment_editing import segment_rule_check
from marketing.services.segments import segment_preview

__all__ = [
    "LlmBadOutput",
    "SegmentDraft",
    "SegmentTextNotUnderstood",
    "segment_draft_from_text",
    "segment_rule_tool_schema",
]

TOOL_NAME = "segment_rule"
PURPOSE = "segment_builder"
MAX_TEXT_LENGTH = 1000
# The prompt lists the club's own names so "gold members" uses the club's spelling; capped so a
# club with thousands of tags doesn't turn every request into a long one.
MAX_LISTED_NAMES = 200
# Event data keys not worth offering as activity filters: ids of records in other systems, and the
# person's details (those are profile fields already, kept current by the events).
UNLISTED_PROPERTY_KEYS = {
    "member_id",
    "player_id",
    "contact_id",
    "message_id",
    "booking_id",
    "round_id",
    "tournament_id",
    "handicap_id",
    *PERSON,
}


@dataclass(frozen=True)
class SegmentDraft:
    text: str
    rule: dict
    explanation: str
    count: int
    sample: list  # a few matching CustomerProfile rows
    source: str  # "llm" or "offline"
    model: str | None = None
    usage: TokenUsage | None = None


@dataclass(frozen=True)
class _ClubVocabulary:
    tiers: list[str]
    tags: list[str]
    segments: dict[int, str]


def segment_draft_from_text(*, club, text: str, now: datetime | None = None) -> SegmentDraft:
    """The rule a sentence describes, explained and previewed against the club's profiles.

    Uses the model when an API key is configured, else the offline parser. Reads only; saves
    nothing and audits nothing (the LLM client logs the prompt and usage). Raises
    SegmentTextNotUnderstood (offline, or empty/long text), LlmUnavailable (the API failed after
    retries) or LlmBadOutput (the model's answer is not a valid rule: `.errors` has every path).
    """
    text = " ".join((text or "").split())
    if not text:
        raise SegmentTextNotUnderstood(
            "Describe the profiles you want, e.g. “gold members who played at least 3 rounds in the last month”.",
            understood=[],
            not_understood=[],
        )
    if len(text) > MAX_TEXT_LENGTH:
        raise SegmentTextNotUnderstood(
            f"Keep the description under {MAX_TEXT_LENGTH} characters.", understood=[], not_understood=[]
        )
    now = now or timezone.now()
    today = now.astimezone(zoneinfo.ZoneInfo(club.timezone)).date()
    vocabulary = _club_vocabulary(club, with_segments=is_configured())
    model = usage = None
    if is_configured():
        result = llm_tool_call(
            purpose=PURPOSE,
            system=_system_prompt(club, today, vocabulary),
            prompt=text,
            tool_name=TOOL_NAME,
            tool_description=(
                "Save the audience the marketer described as a Fairway segment rule tree. The rule must use only "
                "the fields, operators, activity types and names listed in the instructions."
            ),
            input_schema=segment_rule_tool_schema(),
            club=club,
        )
        rule, model, usage, source = _rule_from_tool_input(result.input, club), result.model, result.usage, "llm"
    else:
        rule = offline_segment_parse(text, today=today, tiers=vocabulary.tiers, tags=vocabulary.tags)
        source = "offline"
        if problems := rule_validate(rule):  # e.g. a window longer than the grammar allows
            raise SegmentTextNotUnderstood(
                "; ".join(problem.message for problem in problems), understood=[], not_understood=[text]
            )
    preview = segment_preview(club=club, rule=rule, now=now)
    return SegmentDraft(
        text=text,
        rule=rule,
        explanation=preview.explanation,
        count=preview.count,
        sample=preview.sample,
        source=source,
        model=model,
        usage=usage,
    )


def segment_rule_tool_schema() -> dict:
    """The grammar as a tool input schema: the Messages API wants an object at the top, so the
    rule sits under "rule", with the grammar's $defs hoisted to the root where its "#/$defs/…"
    references resolve; activity types are the catalog's."""
    grammar = rule_json_schema()
    # The model may only name activity types the catalog has (stored rules may hold older ones).
    activity_type = grammar["$defs"]["activity"]["properties"]["activity"]["properties"]["type"]
    activity_type["enum"] = list(ACTIVITY_TYPES)
    return {
        "type": "object",
        "properties": {"rule": {"$ref": "#/$defs/rule", "description": "The segment rule tree."}},
        "required": ["rule"],
        "additionalProperties": False,
        "$defs": grammar["$defs"],
    }


def _rule_from_tool_input(tool_input: dict, club) -> dict:
    """The model's rule, or LlmBadOutput naming every problem with its path."""
    if "rule" not in tool_input:
        raise LlmBadOutput(
            "The AI answer has no rule in it ($: the tool input has no 'rule'); rephrase and try again.",
            {"tool_input": tool_input},
            errors=[{"path": "$", "message": "The tool input has no 'rule'."}],
        )
    rule = tool_input["rule"]
    errors = [{"path": error.path, "message": error.message} for error in rule_validate(rule)]
    if not errors:
        errors = _unknown_activity_errors(rule)
        try:  # segments the model names must be this club's (it may invent an id)
            segment_rule_check(club, rule=rule)
        except MarketingError as error:
            errors += error.details["errors"]
    if errors:
        listed = "; ".join(f"{error['path']}: {error['message']}" for error in errors[:5])
        raise LlmBadOutput(
            f"The AI suggested a rule Fairway can't use ({listed}). Rephrase and try again.",
            {"rule": rule},
            errors=errors,
        )
    return rule


def _unknown_activity_errors(rule) -> list[dict]:
    """An activity type the catalog doesn't have matches nobody: the model misspelled or invented it."""
    return [
        {"path": f"{path}.activity.type", "message": f"No activity type {node['activity'].get('type')!r}."}
        for path, node in rule_conditions(rule)
        if isinstance(node.get("activity"), dict) and node["activity"].get("type") not in ACTIVITY_TYPES
    ]


def _club_vocabulary(club, *, with_segments: bool) -> _ClubVocabulary:
    """The club's own names; its segments only for the model's prompt (the offline parser has no
    phrasing for them)."""
    segments = segments_in_order(club=club).values_list("pk", "name")[:MAX_LISTED_NAMES]
    return _ClubVocabulary(
        tiers=club_membership_tiers(club=club)[:MAX_LISTED_NAMES],
        tags=club_tag_names(club=club, limit=MAX_LISTED_NAMES),
        segments=dict(segments) if with_segments else {},
    )


def _system_prompt(club, today: date, vocabulary: _ClubVocabulary) -> str:
    fields = "\n".join(
        f"- {field.name} ({field.type}; {field.label}): {', '.join(field.operators)}"
        + (f"; values: {', '.join(field.choices)}" if field.choices else "")
        for field in FIELDS.values()
    )

    def listed(names) -> str:
        return ", ".join(names) if names else "(none yet)"

    segments = [f"{pk} = {name}" for pk, name in vocabulary.segments.items()]
    return f"""You turn a golf club marketer's description of an audience into a segment rule for Fairway CRM.
Answer only by calling the `{TOOL_NAME}` tool once, with the whole description as one rule tree.

Club: {club.name}. Timezone: {club.timezone}. Today is {today:%A} {today.isoformat()} there.

Rule tree: groups {{"all": [...]}}, {{"any": [...]}}, {{"not": rule}}; field conditions
{{"field": name, "op": operator, "value": value}}; activity conditions {{"activity": {{"type": event type,
"count": {{"op": "gte", "value": 3}}, "within_last_days": 30, "properties": {{"key": value}}}}}} (count defaults
to at least 1; "within_last_days" counts back from today); {{"tag": name}}; {{"segment": id}};
{{"birthday": {{"within_next_days": 7}}}}.

Fields (name, type, label: operators):
{fields}

Activity types (properties they may be filtered on in brackets):
{_activity_types()}

This club's membership tiers: {listed(vocabulary.tiers)}
This club's tags: {listed(vocabulary.tags)}
This club's segments (id = name): {listed(segments)}

Guidance:
- Use the club's own spelling of tiers and tags. "Gold members" means tier "Gold".
- "Rounds" are round.completed activities; "opened an email" is message.opened with properties
  {{"channel": "email"}}; "no-show" is booking.no_show.
- Activities only take a relative window: turn "since June" into the number of days from the first of
  that month to today ({today.isoformat()}); "the last month" is 30 days, "the last week" 7.
- "Haven't done X" is {{"not": {{"activity": ...}}}}.
- Dates are ISO (YYYY-MM-DD); relative days are whole numbers.
- Use only what is listed here; do not invent fields, event types, tags or segment ids.
"""


def _activity_types() -> str:
    lines = []
    for event_type in CATALOG:
        if not event_type.is_about_a_person:
            continue
        keys = [
            name + (f" ({'/'.join(field.choices)})" if field.choices else "")
            for name, field in {**event_type.required, **event_type.optional}.items()
            if name not in UNLISTED_PROPERTY_KEYS and field.type not in ("object", "list")
        ]
        properties = f" [{', '.join(keys)}]" if keys else ""
        lines.append(f"- {event_type.name}: {event_type.description}{properties}")
    return "\n".join(dict.fromkeys(lines))
