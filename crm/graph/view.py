"""POST /graphql/: the GraphQL endpoint behind the REST API's doors (keys, sessions, scopes, throttles).

DRF authenticates and throttles exactly as for REST (one error body for 401/403/429), then hands
the request to graphene's view. Everything the endpoint exposes is profile data, so any call needs
`profiles:read`; mutations check `profiles:write` themselves. Queries deeper than
`GRAPHQL_MAX_DEPTH` are refused before they run.
"""

import logging
from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse, HttpResponseNotAllowed
from graphene_django.views import GraphQLView, HttpError
from graphql import (
    ExecutionResult,
    GraphQLError,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)

from config.graphql_schema import schema
from crm.edges.api.auth import ClubApiView, request_scopes
from crm.graph.validation import depth_limit_rule
from crm.kernel.actor import Actor
from crm.kernel.errors import DomainError
from crm.models import ApiScope

logger = logging.getLogger(__name__)

# Integrations send the same few query texts over and over; parsing and validating one costs
# more than running it. Only short texts are kept, so the cache stays small whatever is sent.
CACHED_QUERY_MAX_CHARS = 10_000


@lru_cache(maxsize=512)
def _checked_document(query: str, max_depth: int):
    """(document, errors) for a query text: parsed, then validated against the schema and depth."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return None, (error,)
    rules = (*specified_rules, depth_limit_rule(max_depth))
    return document, tuple(validate(schema.graphql_schema, document, rules))


def checked_document(query: str):
    if len(query) > CACHED_QUERY_MAX_CHARS:
        return _checked_document.__wrapped__(query, settings.GRAPHQL_MAX_DEPTH)
    return _checked_document(query, settings.GRAPHQL_MAX_DEPTH)


class ClubGraphQLView(GraphQLView):
    def execute_graphql_request(self, request, data, query, variables, operation_name, show_graphiql=False):
        if not query:
            return super().execute_graphql_request(request, data, query, variables, operation_name)
        document, errors = checked_document(query)
        if errors:
            return ExecutionResult(data=None, errors=list(errors))
        operation = get_operation_ast(document, operation_name)
        if request.method == "GET" and operation is not None and operation.operation != OperationType.QUERY:
            raise HttpError(HttpResponseNotAllowed(["POST"], "Mutations need a POST request."))
        try:
            return execute(
                schema.graphql_schema,
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


execute_graphql = ClubGraphQLView.as_view(schema=schema)


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
    return HttpResponse(str(schema), content_type="text/plain; charset=utf-8")
