"""A rule tree in plain English, for the marketer to check before saving (SPEC 8, 8.1).

Deterministic: the same tree always reads the same, so the builder page, the AI builder and tests
agree. Field names come out as the registry's labels; values as the rule holds them.
"""

from datetime import date

from marketing.services.rules.compiler import InvalidRule
from marketing.services.rules.fields import COUNT_WORDS, FIELDS, OPERATOR_WORDS
from marketing.services.rules.grammar import parse_date, rule_validate

# Activity types a marketer recognises by name: (one, many). Others read as '"type" activity'.
ACTIVITY_NOUNS = {
    "round.completed": ("completed round", "completed rounds"),
    "booking.created": ("tee-time booking", "tee-time bookings"),
    "booking.cancelled": ("cancelled booking", "cancelled bookings"),
    "booking.checked_in": ("check-in", "check-ins"),
    "booking.no_show": ("no-show", "no-shows"),
    "message.sent": ("message sent", "messages sent"),
    "message.delivered": ("message delivered", "messages delivered"),
    "message.opened": ("message opened", "messages opened"),
    "message.clicked": ("message clicked", "messages clicked"),
    "message.bounced": ("bounced message", "bounced messages"),
    "membership.renewed": ("membership renewal", "membership renewals"),
    "payment.received": ("payment received", "payments received"),
    "tournament.entry_created": ("tournament entry", "tournament entries"),
}

# The count that means the opposite, for not(…).
COUNT_OPPOSITES = {"gte": "lt", "gt": "lte", "lt": "gte", "lte": "gt"}
# Spelled out here, not with strftime("%B"), so the words don't change with the server's locale.
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
DATE_OPERATOR_WORDS = {"gt": "is after", "gte": "is on or after", "lt": "is before", "lte": "is on or before"}


def rule_explain(rule, *, segment_names: dict[int, str] | None = None) -> str:
    """Plain English for a valid rule tree (raises InvalidRule otherwise). `segment_names` maps the
    ids of segments the rule refers to onto their names; unknown ids read as "segment #12"."""
    errors = rule_validate(rule)
    if errors:
        raise InvalidRule(errors)
    text = _Explainer(segment_names or {}).node(rule, top=True)
    return text[:1].upper() + text[1:]


class _Explainer:
    def __init__(self, segment_names: dict[int, str]):
        self.segment_names = segment_names

    def node(self, node: dict, *, top: bool = False) -> str:
        if "all" in node or "any" in node:
            kind = "all" if "all" in node else "any"
            parts = [self.node(child) for child in node[kind]]
            if len(parts) == 1:
                return parts[0]
            text = (", and " if kind == "all" else ", or ").join(parts)
            # Nested groups are bracketed so "A, and (B, or C)" can't be misread.
            return text if top else f"({text})"
        if "not" in node:
            return self.negated(node["not"])
        if "field" in node:
            return self.field(node)
        if "activity" in node:
            return self.activity(node["activity"])
        if "tag" in node:
            return f'tagged "{node["tag"]}"'
        if "segment" in node:
            return f"in the segment {self.segment(node['segment'])}"
        days = node["birthday"]["within_next_days"]
        return "birthday today" if days == 0 else f"birthday within the next {_days(days)}"

    def negated(self, node: dict) -> str:
        """not(…) in words: an activity count turned round where that is exact, else "not (…)"."""
        if "activity" in node:
            spec = node["activity"]
            count = spec.get("count", {"op": "gte", "value": 1})
            if count["op"] in COUNT_OPPOSITES:
                return self.activity({**spec, "count": {"op": COUNT_OPPOSITES[count["op"]], "value": count["value"]}})
        if "tag" in node:
            return f'not tagged "{node["tag"]}"'
        if "segment" in node:
            return f"not in the segment {self.segment(node['segment'])}"
        if "not" in node:
            return self.node(node["not"])
        inner = self.node(node)
        return f"not {inner}" if inner.startswith("(") else f"not ({inner})"

    def segment(self, segment_id: int) -> str:
        name = self.segment_names.get(segment_id)
        return f'"{name}"' if name else f"#{segment_id}"

    def field(self, node: dict) -> str:
        field = FIELDS[node["field"]]
        op, value = node["op"], node.get("value")
        label = field.label
        if op == "is_set":
            return f"{label} is known"
        if op == "is_not_set":
            return f"{label} is unknown"
        if op == "within_last_days":
            return f"{label} is today" if value == 0 else f"{label} is within the last {_days(value)}"
        if op == "more_than_days_ago":
            return f"{label} is more than {_days(value)} ago"
        if op == "within_next_days":
            return f"{label} is today" if value == 0 else f"{label} is within the next {_days(value)}"
        if op == "between":
            low, high = (_value(field, item) for item in value)
            return f"{label} is between {low} and {high}"
        words = OPERATOR_WORDS[op]
        if field.type in ("date", "datetime"):
            words = DATE_OPERATOR_WORDS.get(op, "is on" if op == "eq" else words)
        if op in ("in", "not_in"):
            return f"{label} {words} {', '.join(_value(field, item) for item in value)}"
        if op in ("contains", "starts_with"):
            return f'{label} {words} "{value}"'

        return f"{label} {words} {_value(field, value)}"

    def activity(self, spec: dict) -> str:
        count = spec.get("count", {"op": "gte", "value": 1})
        op, number = count["op"], count["value"]
        one, many = ACTIVITY_NOUNS.get(spec["type"], (f'"{spec["type"]}" activity', f'"{spec["type"]}" activities'))
        if (op, number) in (("eq", 0), ("lt", 1), ("lte", 0)):
            text = f"no {one}"
        elif (op, number) in (("gte", 1), ("gt", 0)):
            text = f"at least 1 {one}"
        else:
            text = f"{COUNT_WORDS[op]} {number} {one if number == 1 else many}"
        if "within_last_days" in spec:
            days = spec["within_last_days"]
            text += " today" if days == 0 else f" in the last {_days(days)}"
        if "properties" in spec:
            conditions = " and ".join(f"{key} is {_literal(value)}" for key, value in spec["properties"].items())
            text += f" where {conditions}"
        return text


def _days(number: int) -> str:
    return "1 day" if number == 1 else f"{number} days"


def _value(field, value) -> str:
    if field.type == "boolean":
        return "yes" if value else "no"
    if field.type in ("date", "datetime"):
        return _date(parse_date(value))
    if field.type == "choice":
        return value.replace("_", " ").capitalize()
    if field.type == "number":
        return f"{value:g}" if isinstance(value, float) else str(value)
    if not value or value.strip() != value:
        return f'"{value}"'  # so an empty or space-padded value is visible
    return value


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def _date(day: date) -> str:
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"
