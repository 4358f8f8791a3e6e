"""A query depth limit that also survives cyclic fragments.

graphene's `depth_limit_validator` follows fragment spreads without remembering where it has
been, so `fragment F on Profile { ...F }` recurses until Python gives up (a 500 instead of a
validation error). This rule counts the same way (introspection fields don't count) but walks
each fragment at most once per path; graphql-core's own NoFragmentCyclesRule reports the cycle.
"""

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    ValidationRule,
)


def depth_limit_rule(max_depth: int) -> type[ValidationRule]:
    class DepthLimitRule(ValidationRule):
        def enter_operation_definition(self, operation: OperationDefinitionNode, *_args):
            fragments = {
                definition.name.value: definition
                for definition in self.context.document.definitions
                if isinstance(definition, FragmentDefinitionNode)
            }
            depth = _depth(operation, fragments, frozenset())
            if depth > max_depth:
                name = operation.name.value if operation.name else "anonymous"
                self.report_error(
                    GraphQLError(
                        f"'{name}' nests {depth} levels deep; the limit is {max_depth}.",
                        operation,
                        extensions={"code": "query_too_deep", "details": {"depth": depth, "limit": max_depth}},
                    )
                )

    return DepthLimitRule


def _depth(node, fragments: dict, visiting: frozenset) -> int:
    if isinstance(node, FieldNode):
        if node.name.value.startswith("__") or not node.selection_set:
            return 0
        return 1 + max((_depth(child, fragments, visiting) for child in node.selection_set.selections), default=0)
    if isinstance(node, FragmentSpreadNode):
        name = node.name.value
        if name in visiting or name not in fragments:
            return 0  # a cycle or an unknown fragment: other rules report those
        return _depth(fragments[name], fragments, visiting | {name})
    if isinstance(node, InlineFragmentNode | FragmentDefinitionNode | OperationDefinitionNode):
        return max((_depth(child, fragments, visiting) for child in node.selection_set.selections), default=0)
    return 0
