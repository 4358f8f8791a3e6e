"""GraphQL's half of the edge kit: what every app's schema and the one endpoint build on.

- Errors: `graph_error` (the REST body's code and details in `extensions`), `invalid_fields`,
  `require_scope`, `parse_id`, `bounded_argument`. A service's refusal (`DomainError`) is not caught
  by resolvers: `ClubGraphQLView.format_error` translates it, here and nowhere else.
- What a query selects: `selected_fields`, `largest_first` and `with_selected_prefetches`, so a
  resolver that loads a page of rows prefetches exactly what is asked for below them (no N+1).
- Fields other apps add to crm's Profile type (`ProfileExtension`), without crm importing them.
- The endpoint: `GraphQLApiView` (POST /graphql/) behind the REST API's doors (keys, sessions,
  scopes, throttles), the depth limit, the cache of checked query texts, and `graphql_sdl`.

The endpoint serves the project's schema named by `settings.GRAPHENE["SCHEMA"]`
(config/graphql_schema.py joins every app's part), so this kit never imports an app's schema.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import graphene
from django.conf import settings
from django.db.models import Prefetch
from django.http import HttpResponse, HttpResponseNotAllowed
from graphene_django import settings as graphene_django_settings
from graphene_django.views import GraphQLView, HttpError
from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    ValidationRule,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_argument_values

from crm.edges.api.auth import ClubApiView, request_scopes
from crm.kernel.actor import Actor
from crm.kernel.errors import DomainError
from crm.models import ApiScope

logger = logging.getLogger(__name__)

# --- Errors a resolver raises ---------------------------------------------------------------


def graph_error(code: str, message: str, details: dict | None = None) -> GraphQLError:
    """The REST error body's code and details, in GraphQL's `extensions`."""
    return GraphQLError(message, extensions={"code": code, "details": details or {}})


def invalid_fields(errors: dict) -> GraphQLError:
    """A serializer's (or a hand-made) {field: [messages]} as the `invalid` error REST returns."""
    fields = {name: [str(message) for message in messages] for name, messages in errors.items()}
    return graph_error("invalid", "The request is not valid.", {"fields": fields})


def require_scope(info, scope: str) -> None:
    if scope not in info.context.api_scopes:
        raise graph_error("permission_denied", f"This needs the '{scope}' scope.")


def parse_id(value, argument: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_fields({argument: ["A numeric id is required."]}) from None


def bounded_argument(value: int, argument: str, *, maximum: int) -> int:
    """A page size or list length the caller chose, refused (not clamped) outside 1..maximum."""
    if not 1 <= value <= maximum:
        raise invalid_fields({argument: [f"Must be between 1 and {maximum}."]})
    return value


# --- What the query selects -------------------------------------------------------------------


def _child_fields(node, info):
    selection_set = getattr(node, "selection_set", None)
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _child_fields(selection, info)
        elif isinstance(selection, FragmentSpreadNode):
            yield from _child_fields(info.fragments[selection.name.value], info)


def selected_fields(info, *path: str) -> dict[str, list[FieldNode]]:
    """The fields the query asks for below `path` of the current field (fragments expanded), each
    with every node that selects it (aliases may select one field twice, with other arguments)."""
    nodes = list(info.field_nodes)
    for name in path:
        nodes = [child for node in nodes for child in _child_fields(node, info) if child.name.value == name]
    selected: dict[str, list[FieldNode]] = {}
    for node in nodes:
        for child in _child_fields(node, info):
            selected.setdefault(child.name.value, []).append(child)
    return selected


def largest_first(info, field_nodes: list[FieldNode], *, type_name: str, field_name: str, maximum: int) -> int:
    """The largest `first` any selection of a nested list asks for, at most `maximum`: what one
    sliced prefetch must load so every alias of the field finds its rows."""
    definition = info.schema.get_type(type_name).fields[field_name]
    sizes = [get_argument_values(definition, node, info.variable_values).get("first", 1) for node in field_nodes]
    return min(max(sizes), maximum)


# Builds the Prefetch for one selected field from the nodes that select it.
PrefetchForSelection = Callable[[list[FieldNode]], Prefetch]


def with_selected_prefetches(queryset, info, prefetches: Mapping[str, PrefetchForSelection], *path: str):
    """`queryset` prefetching, of the relations in `prefetches` (by GraphQL field name), those the
    query selects below `path`: a page of rows with everything costs one query per relation."""
    selected = selected_fields(info, *path)
    for field_name, prefetch_for in prefetches.items():
        if field_name in selected:
            queryset = queryset.prefetch_related(prefetch_for(selected[field_name]))
    return queryset


# --- Fields other apps add to crm's Profile type --------------------------------------------


@dataclass(frozen=True)
class ProfileExtension:
    """A field another app adds to Profile (marketing adds `segments`) without crm importing it.

    `load(club, profiles)` fills the field for a whole page of profiles in one query, so a
    connection of 100 profiles costs what one does; its resolver reads what was loaded."""

    name: str  # the GraphQL field name, camelCase
    field: graphene.Field
    load: Callable[[object, list], None]


_profile_extensions: dict[str, ProfileExtension] = {}
_profile_type: list[type[graphene.ObjectType]] = []  # crm's Profile type, once crm.graph has loaded


def profile_extension_register(extension: ProfileExtension) -> None:
    """Call before the schema is built (config/graphql_schema.py registers, then builds)."""
    _profile_extensions[extension.name] = extension
    for profile_type in _profile_type:
        profile_type._meta.fields[extension.name] = extension.field


def profile_extensions_bind(profile_type: type[graphene.ObjectType]) -> None:
    """crm names its Profile type, which receives every registered field (whichever loads first)."""
    _profile_type[:] = [profile_type]
    for extension in _profile_extensions.values():
        profile_type._meta.fields[extension.name] = extension.field


def profile_extensions_load(info, club, profiles: list, *path: str) -> list:
    """Let each extension the query selects below `path` load its field for the page of `profiles`."""
    if profiles and _profile_extensions:
        selected = selected_fields(info, *path)
        for name, extension in _profile_extensions.items():
            if name in selected:
                extension.load(club, profiles)
    return profiles


# --- The depth limit --------------------------------------------------------------------------
# graphene's `depth_limit_validator` follows fragment spreads without remembering where it has
# been, so `fragment F on Profile { ...F }` recurses until Python gives up (a 500 instead of a
# validation error). This rule counts the same way (introspection fields don't count) but walks
# each fragment at most once per path; graphql-core's own NoFragmentCyclesRule reports the cycle.


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


# --- The endpoint -----------------------------------------------------------------------------
# DRF authenticates and throttles exactly as for REST (one error body for 401/403/429), then hands
# the request to graphene's view. Every call needs `profiles:read`; mutations and other apps'
# fields check their own scopes. Queries deeper than `GRAPHQL_MAX_DEPTH` are refused before they run.

# Integrations send the same few query texts over and over; parsing and validating one costs
# more than running it. Only short texts are kept, so the cache stays small whatever is sent.
CACHED_QUERY_MAX_CHARS = 10_000


def project_schema() -> graphene.Schema:
    """The schema every app's part is joined into, as `settings.GRAPHENE["SCHEMA"]` names it.

    Read through the module: graphene-django replaces its settings object when GRAPHENE changes."""
    return graphene_django_settings.graphene_settings.SCHEMA


@lru_cache(maxsize=512)
def _checked_document(schema: graphene.Schema, query: str, max_depth: int):
    """(document, errors) for a query text: parsed, then validated against the schema and depth."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return None, (error,)
    rules = (*specified_rules, depth_limit_rule(max_depth))
    return document, tuple(validate(schema.graphql_schema, document, rules))


def checked_document(schema: graphene.Schema, query: str):
    if len(query) > CACHED_QUERY_MAX_CHARS:
        return _checked_document.__wrapped__(schema, query, settings.GRAPHQL_MAX_DEPTH)
    return _checked_document(schema, query, settings.GRAPHQL_MAX_DEPTH)


class ClubGraphQLView(GraphQLView):
    def __init__(self, **options):
        super().__init__(**{"schema": project_schema(), **options})

    def execute_graphql_request(self, request, data, query, variables, operation_name, show_graphiql=False):
        if not query:
            return super().execute_graphql_request(request, data, query, variables, operation_name)
        document, errors = checked_document(self.schema, query)
        if errors:
            return ExecutionResult(data=None, errors=list(errors))
        operation = get_operation_ast(document, operation_name)
        if request.method == "GET" and operation is not None and operation.operation != OperationType.QUERY:
            raise HttpError(HttpResponseNotAllowed(["POST"], "Mutations need a POST request."))
        try:
            return execute(
                self.schema.graphql_schema,
                document,
                context_value=request,
                variable_values=variables,
                operation_name=operation_name,
            )
        except Exception as error:  # e.g. variables of the wrong shape, before any resolver runs
            return ExecutionResult(errors=[error])

    @staticmethod
    def format_error(error):
        """Every error as GraphQL's error with the REST body's code and details in `extensions`:
        a service's refusal (DomainError) is translated here and nowhere else."""
        original = getattr(error, "original_error", None)
        if isinstance(original, DomainError):
            formatted = GraphQLView.format_error(error)
            formatted["message"] = original.message
            formatted["extensions"] = {"code": str(original.code), "details": original.details}
            return formatted
        if original is not None and not isinstance(original, GraphQLError):
            # A bug, not a caller's mistake: log it, and don't show internals to the caller.
            logger.error("GraphQL resolver failed at %s", getattr(error, "path", None), exc_info=original)
            return {
                "message": "Something went wrong on our side; it has been logged.",
                "locations": [location._asdict() for location in error.locations or ()],
                "path": error.path,
                "extensions": {"code": "internal_error", "details": {}},
            }
        formatted = GraphQLView.format_error(error)
        # Syntax, validation and depth errors carry no code of their own.
        formatted.setdefault("extensions", {}).setdefault("code", "invalid_query")
        formatted["extensions"].setdefault("details", {})
        return formatted


execute_graphql = ClubGraphQLView.as_view()  # serving project_schema(), looked up per request


class GraphQLApiView(ClubApiView):
    schema = None  # documented by its own SDL (GET /api/schema/graphql), not in the OpenAPI file
    read_scope = write_scope = ApiScope.PROFILES_READ

    def get(self, request):
        return self._execute(request)

    def post(self, request):
        return self._execute(request)

    def _execute(self, request):
        django_request = request._request
        django_request.api_scopes = request_scopes(request)
        django_request.api_key = request.auth if hasattr(request.auth, "prefix") else None
        django_request.actor = Actor.from_request(request)
        return execute_graphql(django_request)


def graphql_sdl(request):
    """The GraphQL schema in SDL, public like the OpenAPI file: for codegen and for reading."""
    return HttpResponse(str(project_schema()), content_type="text/plain; charset=utf-8")
