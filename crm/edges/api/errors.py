"""One error body for the whole API: {"error": {"code", "message", "details"}}.

Services refuse with a DomainError and never choose a status; the handler below turns every one
into the error body, with the status from DOMAIN_ERROR_STATUS, the one table of them that pages
share too (see crm.edges.pages).
"""

from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler

from crm.kernel.errors import DomainError

# A domain error code's HTTP status; any code not listed is the caller's mistake, a 400 (so is
# not_permitted: a service's "not like that", e.g. hand-picking into a rule-based segment; a role
# or scope that may not call at all is refused before any service runs, as a 403). Keyed by
# the codes' string values so that crm's edge needn't import the apps above it (an enum member
# is equal to its value, so MarketingErrorCode.X and "x" find the same row).
DOMAIN_ERROR_STATUS = {
    "not_found": status.HTTP_404_NOT_FOUND,  # SPEC: another club's object answers 404
    "llm_bad_output": status.HTTP_502_BAD_GATEWAY,  # the model answered, unusably
    "llm_unavailable": status.HTTP_503_SERVICE_UNAVAILABLE,  # the model is out of reach
    "llm_not_configured": status.HTTP_503_SERVICE_UNAVAILABLE,
    "llm_error": status.HTTP_503_SERVICE_UNAVAILABLE,
}


def domain_error_status(error: DomainError) -> int:
    return DOMAIN_ERROR_STATUS.get(str(error.code), status.HTTP_400_BAD_REQUEST)


class ApiError(APIException):
    def __init__(self, *, status_code: int, code: str, message: str, details: dict | None = None):
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or {}
        super().__init__(message, code)


def invalid_fields(fields: dict) -> ApiError:
    """A 400 naming each bad parameter or field, like a serializer's validation error."""
    return ApiError(status_code=400, code="invalid", message="The request is not valid.", details={"fields": fields})


def query_datetime(params, name: str):
    """An ISO 8601 query parameter as an aware datetime, None when absent; a 400 naming it when bad."""
    from rest_framework import serializers

    if not params.get(name):
        return None
    try:
        return serializers.DateTimeField().to_internal_value(params[name])
    except serializers.ValidationError as error:
        raise invalid_fields({name: error.detail}) from error


def query_int(params, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """A whole-number query parameter within bounds, the default when absent; a 400 naming it when not."""
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        raise invalid_fields({name: [f"A whole number from {minimum} to {maximum}."]})
    return value


def error_response(*, status_code: int, code: str, message: str, details: dict | None = None, headers=None):
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return Response(body, status=status_code, headers=headers)


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return error_response(
            status_code=domain_error_status(exc), code=str(exc.code), message=exc.message, details=exc.details
        )
    if isinstance(exc, ApiError):
        return error_response(status_code=exc.status_code, code=exc.code, message=exc.message, details=exc.details)
    response = exception_handler(exc, context)
    if response is None:
        return None
    # Django's Http404 / PermissionDenied carry no DRF code; name them like DRF's own.
    code = getattr(exc, "default_code", None) or {404: "not_found", 403: "permission_denied"}.get(
        response.status_code, "error"
    )
    detail = response.data
    message = detail.get("detail", "The request is not valid.") if isinstance(detail, dict) else str(detail)
    details = {} if isinstance(detail, dict) and set(detail) == {"detail"} else {"fields": detail}
    if response.status_code == status.HTTP_400_BAD_REQUEST and details:
        message = "The request is not valid."
    response.data = {"error": {"code": str(code), "message": str(message), "details": details}}
    return response
