"""The rule grammar (SPEC 8): its JSON Schema, and a validator whose errors point at the bad node.

A rule is a tree:

- groups: `{"all": [rule, …]}`, `{"any": [rule, …]}`, `{"not": rule}`;
- field conditions: `{"field": "tier", "op": "in", "value": ["Gold", "Silver"]}` (fields and their
  operators come from the registry; `is_set`/`is_not_set` take no value, `between` takes
  `[low, high]`, `within_last_days`/`more_than_days_ago`/`within_next_days` take days);
- activity conditions: `{"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3},
  "within_last_days": 30, "properties": {"course": "North"}}}` (count defaults to at least 1);
- tag conditions: `{"tag": "Winter league"}`;
- segment membership: `{"segment": 12}` (the other segment's materialised members, never its rule
  inlined, so segments of segments cost one lookup each);
- birthday: `{"birthday": {"within_next_days": 7}}`.

Dates are ISO strings (`2026-06-30`); relative days are whole numbers, evaluated in the club's
timezone by the compiler.
"""

import math
import re
from dataclasses import dataclass
from datetime import date

from marketing.services.rules.fields import FIELDS

MAX_DEPTH = 8
MAX_CONDITIONS = 100
MAX_DAYS = 3650
MAX_LIST = 500
COUNT_OPERATORS = ("eq", "gt", "gte", "lt", "lte")
NO_VALUE = ("is_set", "is_not_set")
RELATIVE = ("within_last_days", "more_than_days_ago", "within_next_days")
PROPERTY_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
EVENT_TYPE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")


@dataclass(frozen=True)
class RuleError:
    path: str  # JSONPath-like: $.all[1].value
    message: str


def rule_validate(rule) -> list[RuleError]:
    """Every problem in the tree, each with the path of the node that has it; [] when valid."""
    errors: list[RuleError] = []
    counter = [0]
    _check(rule, "$", 0, errors, counter)
    if counter[0] > MAX_CONDITIONS:
        errors.append(RuleError("$", f"A rule may have at most {MAX_CONDITIONS} conditions; this has {counter[0]}."))
    return errors


def rule_conditions(rule, path: str = "$"):
    """(path, condition) for every condition of a tree, descending through all/any/not groups
    only: a condition's own contents (an activity's properties, say) are never taken for more
    of the tree."""
    if not isinstance(rule, dict):
        return
    for kind in ("all", "any"):
        if isinstance(rule.get(kind), list):
            for index, child in enumerate(rule[kind]):
                yield from rule_conditions(child, f"{path}.{kind}[{index}]")
            return
    if "not" in rule:
        yield from rule_conditions(rule["not"], f"{path}.not")
        return
    yield path, rule


def segment_references(rule) -> set[int]:
    """The ids of the segments a rule tree refers to."""
    return {
        node["segment"]
        for _, node in rule_conditions(rule)
        if isinstance(node.get("segment"), int) and not isinstance(node["segment"], bool)
    }


def _check(node, path: str, depth: int, errors: list, counter: list) -> None:
    if depth > MAX_DEPTH:
        errors.append(RuleError(path, f"Groups nest at most {MAX_DEPTH} deep."))
        return
    if not isinstance(node, dict) or len(node) == 0:
        errors.append(RuleError(path, "Expected a condition or a group (an object)."))
        return
    keys = set(node)
    if keys in ({"all"}, {"any"}):
        (kind,) = keys
        children = node[kind]
        if not isinstance(children, list) or not children:
            errors.append(RuleError(f"{path}.{kind}", f"'{kind}' needs a non-empty list of conditions."))
            return
        for index, child in enumerate(children):
            _check(child, f"{path}.{kind}[{index}]", depth + 1, errors, counter)
        return
    if keys == {"not"}:
        _check(node["not"], f"{path}.not", depth + 1, errors, counter)
        return
    counter[0] += 1
    if "field" in keys:
        _check_field(node, path, errors)
    elif keys == {"activity"}:
        _check_activity(node["activity"], f"{path}.activity", errors)
    elif keys == {"tag"}:
        if not isinstance(node["tag"], str) or not 1 <= len(node["tag"].strip()) <= 60:
            errors.append(RuleError(f"{path}.tag", "A tag name needs 1–60 characters."))
    elif keys == {"segment"}:
        if isinstance(node["segment"], bool) or not isinstance(node["segment"], int) or node["segment"] < 1:
            errors.append(RuleError(f"{path}.segment", "A segment id (a whole number) is required."))
    elif keys == {"birthday"}:
        spec = node["birthday"]
        if not isinstance(spec, dict) or set(spec) != {"within_next_days"}:
            errors.append(RuleError(f"{path}.birthday", 'Expected {"within_next_days": days}.'))
        else:
            _check_days(spec["within_next_days"], f"{path}.birthday.within_next_days", errors, maximum=366)
    else:
        errors.append(
            RuleError(
                path,
                f"Unknown condition with keys {sorted(keys)}; expected all, any, not, field, "
                "activity, tag, segment or birthday.",
            )
        )


def _check_field(node, path: str, errors: list) -> None:
    unknown = set(node) - {"field", "op", "value"}
    if unknown:
        errors.append(RuleError(path, f"Unexpected keys {sorted(unknown)} in a field condition."))
    field = FIELDS.get(node.get("field"))
    if field is None:
        errors.append(RuleError(f"{path}.field", f"Unknown field {node.get('field')!r}; see the field registry."))
        return
    op = node.get("op")
    if op not in field.operators:
        errors.append(RuleError(f"{path}.op", f"'{field.name}' takes one of {', '.join(field.operators)}; got {op!r}."))
        return
    if op in NO_VALUE:
        if "value" in node:
            errors.append(RuleError(f"{path}.value", f"'{op}' takes no value."))
        return
    if "value" not in node:
        errors.append(RuleError(f"{path}.value", f"'{op}' needs a value."))
        return
    value, value_path = node["value"], f"{path}.value"
    if op in RELATIVE:
        _check_days(value, value_path, errors)
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
            errors.append(RuleError(value_path, f"'{op}' needs a list of 1–{MAX_LIST} values."))
            return
        for index, item in enumerate(value):
            _check_scalar(field, item, f"{value_path}[{index}]", errors)
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2:
            errors.append(RuleError(value_path, "'between' needs [low, high]."))
            return
        for index, item in enumerate(value):
            _check_scalar(field, item, f"{value_path}[{index}]", errors)
    else:
        _check_scalar(field, value, value_path, errors)


def _check_scalar(field, value, path: str, errors: list) -> None:
    kind = field.type
    if kind in ("text", "choice"):
        if not isinstance(value, str):
            errors.append(RuleError(path, f"'{field.name}' compares with text."))
        elif kind == "choice" and value not in field.choices:
            errors.append(RuleError(path, f"'{field.name}' is one of {', '.join(field.choices)}; got {value!r}."))
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            errors.append(RuleError(path, f"'{field.name}' compares with a number."))
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(RuleError(path, f"'{field.name}' is true or false."))
    elif kind in ("date", "datetime") and (not isinstance(value, str) or parse_date(value) is None):
        errors.append(RuleError(path, f"'{field.name}' compares with a date like 2026-06-30."))


def _check_activity(spec, path: str, errors: list) -> None:
    if not isinstance(spec, dict):
        errors.append(RuleError(path, "Expected an object with at least a 'type'."))
        return
    unknown = set(spec) - {"type", "count", "within_last_days", "properties"}
    if unknown:
        errors.append(RuleError(path, f"Unexpected keys {sorted(unknown)} in an activity condition."))
    if not isinstance(spec.get("type"), str) or not EVENT_TYPE.match(spec["type"]):
        errors.append(RuleError(f"{path}.type", "An event type like 'round.completed' is required."))
    if "count" in spec:
        count = spec["count"]
        if not isinstance(count, dict) or set(count) != {"op", "value"}:
            errors.append(RuleError(f"{path}.count", 'Expected {"op": "gte", "value": 3}.'))
        else:
            if count["op"] not in COUNT_OPERATORS:
                errors.append(RuleError(f"{path}.count.op", f"One of {', '.join(COUNT_OPERATORS)}."))
            if isinstance(count["value"], bool) or not isinstance(count["value"], int) or count["value"] < 0:
                errors.append(RuleError(f"{path}.count.value", "A whole number, 0 or more."))
    if "within_last_days" in spec:
        _check_days(spec["within_last_days"], f"{path}.within_last_days", errors)
    if "properties" in spec:
        properties = spec["properties"]
        if not isinstance(properties, dict) or not properties:
            errors.append(RuleError(f"{path}.properties", "Expected an object of property: value."))
            return
        for key, value in properties.items():
            if not PROPERTY_KEY.match(str(key)):
                errors.append(RuleError(f"{path}.properties", f"{key!r} is not a property name (lower_snake_case)."))
            elif isinstance(value, dict | list) or value is None:
                errors.append(RuleError(f"{path}.properties.{key}", "Compare with text, a number or true/false."))


def _check_days(value, path: str, errors: list, *, maximum: int = MAX_DAYS) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        errors.append(RuleError(path, f"A whole number of days, 0–{maximum}."))


def parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def rule_json_schema() -> dict:
    """The grammar as JSON Schema (draft 2020-12), built from the registry: for docs and tool use."""
    field_conditions = []
    for field in FIELDS.values():
        scalar = {
            "text": {"type": "string"},
            "choice": {"enum": list(field.choices)},
            "number": {"type": "number"},
            "boolean": {"type": "boolean"},
            "date": {"type": "string", "format": "date"},
            "datetime": {"type": "string", "format": "date"},
        }[field.type]
        for op in field.operators:
            condition = {"field": {"const": field.name}, "op": {"const": op}}
            required = ["field", "op"]
            if op in RELATIVE:
                condition["value"] = {"type": "integer", "minimum": 0, "maximum": MAX_DAYS}
            elif op in ("in", "not_in"):
                condition["value"] = {"type": "array", "items": scalar, "minItems": 1, "maxItems": MAX_LIST}
            elif op == "between":
                condition["value"] = {"type": "array", "items": scalar, "minItems": 2, "maxItems": 2}
            elif op not in NO_VALUE:
                condition["value"] = scalar
            if "value" in condition:
                required.append("value")
            field_conditions.append(
                {
                    "type": "object",
                    "description": f"{field.label} {op}",
                    "properties": condition,
                    "required": required,
                    "additionalProperties": False,
                }
            )
    days = {"type": "integer", "minimum": 0, "maximum": MAX_DAYS}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Fairway segment rule",
        "$ref": "#/$defs/rule",
        "$defs": {
            "rule": {
                "oneOf": [
                    {"$ref": "#/$defs/all"},
                    {"$ref": "#/$defs/any"},
                    {"$ref": "#/$defs/not"},
                    {"$ref": "#/$defs/field"},
                    {"$ref": "#/$defs/activity"},
                    {"$ref": "#/$defs/tag"},
                    {"$ref": "#/$defs/segment"},
                    {"$ref": "#/$defs/birthday"},
                ]
            },
            "all": _group("all"),
            "any": _group("any"),
            "not": {
                "type": "object",
                "properties": {"not": {"$ref": "#/$defs/rule"}},
                "required": ["not"],
                "additionalProperties": False,
            },
            "field": {"oneOf": field_conditions},
            "activity": {
                "type": "object",
                "properties": {
                    "activity": {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "pattern": EVENT_TYPE.pattern},
                            "count": {
                                "type": "object",
                                "properties": {
                                    "op": {"enum": list(COUNT_OPERATORS)},
                                    "value": {"type": "integer", "minimum": 0},
                                },
                                "required": ["op", "value"],
                                "additionalProperties": False,
                            },
                            "within_last_days": days,
                            "properties": {
                                "type": "object",
                                "minProperties": 1,
                                "propertyNames": {"pattern": PROPERTY_KEY.pattern},
                                "additionalProperties": {"type": ["string", "number", "boolean"]},
                            },
                        },
                        "required": ["type"],
                        "additionalProperties": False,
                    }
                },
                "required": ["activity"],
                "additionalProperties": False,
            },
            "tag": {
                "type": "object",
                "properties": {"tag": {"type": "string", "minLength": 1, "maxLength": 60}},
                "required": ["tag"],
                "additionalProperties": False,
            },
            "segment": {
                "type": "object",
                "properties": {"segment": {"type": "integer", "minimum": 1}},
                "required": ["segment"],
                "additionalProperties": False,
            },
            "birthday": {
                "type": "object",
                "properties": {
                    "birthday": {
                        "type": "object",
                        "properties": {"within_next_days": {"type": "integer", "minimum": 0, "maximum": 366}},
                        "required": ["within_next_days"],
                        "additionalProperties": False,
                    }
                },
                "required": ["birthday"],
                "additionalProperties": False,
            },
        },
    }


def _group(kind: str) -> dict:
    return {
        "type": "object",
        "properties": {kind: {"type": "array", "items": {"$ref": "#/$defs/rule"}, "minItems": 1}},
        "required": [kind],
        "additionalProperties": False,
    }
