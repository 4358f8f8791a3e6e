"""The segment builder page's form (SPEC 8 preview): a rule as an editable tree of form fields
and back again.

Each node of the tree has a path ("r", "r.0", "r.0.2"); its inputs are named `<path>-<part>`
and the form lists every path in `n`, in document order. The page posts the whole form on every
edit, so the server alone turns it into a rule tree, validates it with the grammar and puts each
error next to the node it belongs to. The field and operator menus come from the registry.

Groups combine their children with all / any / none ("none" is `not` over `any`). A rule made
elsewhere (the API, the AI builder) that negates a single condition or a group is shown as a
"none" group around it, which means the same thing.
"""

import dataclasses
import math
from dataclasses import dataclass
from datetime import date

from marketing.services.rules.fields import ACTIVITY_TYPES, COUNT_WORDS, FIELDS, OPERATOR_WORDS
from marketing.services.rules.grammar import COUNT_OPERATORS, MAX_DEPTH, NO_VALUE, RELATIVE, rule_validate

ROOT = "r"
KINDS = ("group", "field", "activity", "tag", "segment", "birthday")
COMBINATORS = (("all", "all of"), ("any", "any of"), ("none", "none of"))
OPERATOR_LABELS = {  # the menu's words: the explanation's, plus the operators that take a form of their own
    **OPERATOR_WORDS,
    "between": "is between",
    "is_set": "is known",
    "is_not_set": "is unknown",
    "within_last_days": "in the last … days",
    "more_than_days_ago": "more than … days ago",
    "within_next_days": "in the next … days",
}
DEFAULT_FIELD = "tier"


@dataclass
class Node:
    path: str
    kind: str
    combinator: str = "all"
    children: list["Node"] = dataclasses.field(default_factory=list)
    field: str = DEFAULT_FIELD
    op: str = "eq"
    value: str = ""
    value2: str = ""
    values: list[str] = dataclasses.field(default_factory=list)
    activity_type: str = "round.completed"
    count_op: str = "gte"
    count_value: str = "1"
    days: str = ""
    # (name, value as typed, "text" | "number" | "boolean"): the type is kept so a stored 18 stays
    # a number and a stored "18" stays text when the rule is shown and saved again.
    properties: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    tag: str = ""
    segment: str = ""
    json_path: str = "$"
    errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def field_meta(self):
        return FIELDS.get(self.field)

    @property
    def depth(self) -> int:
        return self.path.count(".")

    @property
    def can_nest(self) -> bool:
        """Whether a group may be added inside this one: a "none" group is two levels of the
        grammar (not + any), so the builder allows half the grammar's depth."""
        return self.depth + 1 < MAX_DEPTH // 2

    @property
    def operators(self):
        meta = self.field_meta
        return [(op, OPERATOR_LABELS.get(op, op)) for op in (meta.operators if meta else ())]

    @property
    def takes_no_value(self) -> bool:
        return self.op in NO_VALUE

    @property
    def takes_days(self) -> bool:
        return self.op in RELATIVE

    @property
    def takes_range(self) -> bool:
        return self.op == "between"

    @property
    def takes_list(self) -> bool:
        return self.op in ("in", "not_in")


def empty_tree() -> Node:
    return Node(path=ROOT, kind="group", children=[Node(path=f"{ROOT}.0", kind="field")])


# --- form → nodes -----------------------------------------------------------------------------


def nodes_from_form(data) -> Node:
    """The tree the form describes (before any add/remove action)."""
    paths = [path for path in data.getlist("n") if path == ROOT or path.startswith(f"{ROOT}.")]
    if ROOT not in paths:
        return empty_tree()
    by_path: dict[str, Node] = {}
    for path in paths:
        kind = data.get(f"{path}-kind", "field")
        node = Node(path=path, kind=kind if kind in KINDS else "field")
        for part in (
            "combinator", "field", "op", "value", "value2", "activity_type", "count_op", "count_value", "days",
            "tag", "segment",
        ):
            if f"{path}-{part}" in data:
                setattr(node, part, data.get(f"{path}-{part}", "").strip())
        node.values = data.getlist(f"{path}-values")
        node.properties = [
            (key.strip(), value.strip(), kind if kind in PROPERTY_TYPES else "text")
            for key, value, kind in zip(
                data.getlist(f"{path}-prop_key"),
                data.getlist(f"{path}-prop_value"),
                data.getlist(f"{path}-prop_type"),
                strict=False,
            )
            if key.strip()
        ]
        if node.field not in FIELDS:
            node.field = DEFAULT_FIELD
        if node.op not in node.field_meta.operators:  # the field changed: its first operator
            node.op = node.field_meta.operators[0]
        by_path[path] = node
    root = by_path[ROOT]
    root.kind = "group"
    for path in paths:
        if path == ROOT:
            continue
        parent = by_path.get(path.rsplit(".", 1)[0])
        if parent is not None and parent.kind == "group":
            parent.children.append(by_path[path])
    return _renumbered(root)


def apply_action(root: Node, action: str) -> Node:
    """`add:<group path>:<kind>` or `remove:<path>`; anything else leaves the tree alone."""
    verb, _, rest = action.partition(":")
    if verb == "add":
        path, _, kind = rest.partition(":")
        group = _find(root, path)
        if group is not None and group.kind == "group" and kind in KINDS and (kind != "group" or group.can_nest):
            child = Node(path=f"{path}.{len(group.children)}", kind=kind)
            if kind == "group":
                child.children.append(Node(path=f"{child.path}.0", kind="field"))
            group.children.append(child)
    elif verb == "remove" and rest != ROOT:
        parent = _find(root, rest.rsplit(".", 1)[0])
        if parent is not None:
            parent.children = [child for child in parent.children if child.path != rest]
    return _renumbered(root)


def _find(node: Node, path: str) -> Node | None:
    if node.path == path:
        return node
    for child in node.children:
        if found := _find(child, path):
            return found
    return None


def _renumbered(node: Node, path: str = ROOT) -> Node:
    node.path = path
    for index, child in enumerate(node.children):
        _renumbered(child, f"{path}.{index}")
    return node


# --- nodes → rule -------------------------------------------------------------------------------


def rule_from_nodes(root: Node) -> dict:
    """The rule tree; each node also learns its JSON path, so errors can be shown beside it."""
    return _rule(root, "$")


def _rule(node: Node, json_path: str):
    node.json_path = json_path
    if node.kind == "group":
        if node.combinator == "none":
            inner = f"{json_path}.not.any"
            return {"not": {"any": [_rule(child, f"{inner}[{i}]") for i, child in enumerate(node.children)]}}
        key = "any" if node.combinator == "any" else "all"
        return {key: [_rule(child, f"{json_path}.{key}[{i}]") for i, child in enumerate(node.children)]}
    if node.kind == "field":
        return _field_rule(node)
    if node.kind == "activity":
        spec = {"type": node.activity_type, "count": {"op": node.count_op, "value": _number(node.count_value)}}
        if node.days:
            spec["within_last_days"] = _number(node.days)
        if node.properties:
            spec["properties"] = {key: _typed(value, kind) for key, value, kind in node.properties}
        return {"activity": spec}
    if node.kind == "tag":
        return {"tag": node.tag}
    if node.kind == "segment":
        return {"segment": _number(node.segment)}
    return {"birthday": {"within_next_days": _number(node.days or "7")}}


def _field_rule(node: Node) -> dict:
    meta = node.field_meta
    if meta is None:
        # A stored rule naming a field the registry no longer has (or a form naming none): kept as
        # written, so validation reports it at its path instead of the page failing on it.
        rule = {"field": node.field, "op": node.op}
        return rule if node.op in NO_VALUE else {**rule, "value": node.value}
    rule = {"field": meta.name, "op": node.op}
    if node.op in NO_VALUE:
        return rule
    if node.op in RELATIVE:
        rule["value"] = _number(node.value)
    elif node.op == "between":
        rule["value"] = [_typed(node.value, meta.type), _typed(node.value2, meta.type)]
    elif node.op in ("in", "not_in"):
        # One value a line, so a value may itself hold a comma ("Gold, Senior").
        items = node.values if meta.type == "choice" else [item.strip() for item in node.value.splitlines()]
        rule["value"] = [_typed(item, meta.type) for item in items if item != ""]
    else:
        rule["value"] = _typed(node.value, meta.type)
    return rule


def _typed(raw: str, kind: str):
    """The form's text as the value type ("number", "boolean", else text) a field or property
    compares with; left as text when it isn't one, so the validator names the problem here."""
    if kind == "number":
        return _number(raw, allow_float=True)
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw.lower(), raw)
    return raw


def _number(raw: str, *, allow_float: bool = False):
    try:
        return int(raw)
    except (TypeError, ValueError):
        pass
    if allow_float:
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return raw
        return number if math.isfinite(number) else raw  # "nan", "inf": left as text for the validator
    return raw


PROPERTY_TYPES = ("text", "number", "boolean")


def _property_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "text"


def attach_errors(root: Node) -> list[str]:
    """Validate the tree, put each error on the node whose JSON path it starts with (the deepest),
    and return the ones no node claims."""
    rule = rule_from_nodes(root)
    unclaimed = []
    nodes = list(_walk(root))
    for error in rule_validate(rule):
        owner = max(
            (node for node in nodes if error.path == node.json_path or error.path.startswith(node.json_path + ".")),
            key=lambda node: len(node.json_path),
            default=None,
        )
        if owner is None:
            unclaimed.append(error.message)
        else:
            owner.errors.append(error.message)
    return unclaimed


def _walk(node: Node):
    yield node
    for child in node.children:
        yield from _walk(child)


# --- rule → nodes -------------------------------------------------------------------------------


def nodes_from_rule(rule) -> Node:
    """The editable tree for a stored rule (a bare condition becomes a one-condition 'all' group)."""
    if not isinstance(rule, dict) or not rule:
        return empty_tree()
    root = _node(rule)
    if root.kind != "group":
        root = Node(path=ROOT, kind="group", children=[root])
    return _renumbered(root)


def _node(rule) -> Node:
    if "all" in rule or "any" in rule:
        key = "all" if "all" in rule else "any"
        return Node(path="", kind="group", combinator=key, children=[_node(child) for child in rule[key]])
    if "not" in rule:
        inner = rule["not"]
        if isinstance(inner, dict) and set(inner) == {"any"}:
            return Node(path="", kind="group", combinator="none", children=[_node(child) for child in inner["any"]])
        return Node(path="", kind="group", combinator="none", children=[_node(inner)])
    if "field" in rule:
        node = Node(path="", kind="field", field=rule["field"], op=rule.get("op", "eq"))
        value = rule.get("value")
        if isinstance(value, list) and node.op == "between":
            node.value, node.value2 = (_text(item) for item in (value + ["", ""])[:2])
        elif isinstance(value, list):
            node.values = [_text(item) for item in value]
            node.value = "\n".join(node.values)
        elif value is not None:
            node.value = _text(value)
        return node
    if "activity" in rule:
        spec = rule["activity"]
        count = spec.get("count") or {"op": "gte", "value": 1}
        properties = spec.get("properties") if isinstance(spec.get("properties"), dict) else {}
        return Node(
            path="", kind="activity", activity_type=spec.get("type", ""), count_op=count.get("op", "gte"),
            count_value=_text(count.get("value", 1)), days=_text(spec.get("within_last_days", "")),
            properties=[(str(key), _text(value), _property_type(value)) for key, value in properties.items()],
        )
    if "tag" in rule:
        return Node(path="", kind="tag", tag=str(rule["tag"]))
    if "segment" in rule:
        return Node(path="", kind="segment", segment=_text(rule["segment"]))
    if "birthday" in rule:
        return Node(path="", kind="birthday", days=_text((rule["birthday"] or {}).get("within_next_days", 7)))
    return Node(path="", kind="field")


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def builder_choices() -> dict:
    """What the node template's menus offer, straight from the registry and the event catalog."""
    return {
        "fields": [(name, meta.label) for name, meta in FIELDS.items()],
        "combinators": COMBINATORS,
        "count_operators": [(op, COUNT_WORDS[op]) for op in COUNT_OPERATORS],
        "activity_types": ACTIVITY_TYPES,
        "property_types": (("text", "text"), ("number", "number"), ("boolean", "yes/no")),
    }
