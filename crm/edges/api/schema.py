"""What drf-spectacular can't infer: our auth schemes, the error body, the event envelope."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "crm.edges.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key fw_<prefix>_<secret>`: a club key made in the admin (API keys), with scopes.",
        }


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "crm.edges.api.auth.ClubSessionAuthentication"
    name = "StaffSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "A signed-in staff member (writes need the X-CSRFToken header).",
        }


ErrorBody = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorDetail",
            {
                "code": serializers.CharField(help_text="Stable machine-readable code, e.g. not_found, throttled."),
                "message": serializers.CharField(help_text="What went wrong, for a person."),
                "details": serializers.DictField(help_text="Per-field errors under `fields`, or context."),
            },
        )
    },
)


def errors(*statuses: int) -> dict:
    meaning = {
        400: "Invalid input; `details.fields` says which field and why.",
        401: "No, or an invalid, revoked or expired API key.",
        403: "The key or role lacks the scope this needs.",
        404: "No such object in your club.",
        413: "The body or batch is too large.",
        429: "Too many requests; retry after the `Retry-After` header's seconds.",
    }
    return {status: OpenApiResponse(ErrorBody, description=meaning[status]) for status in statuses}


NOT_FOUND_EXAMPLE = OpenApiExample(
    "Another club's profile",
    value={"error": {"code": "not_found", "message": "No customer profile here.", "details": {}}},
    response_only=True,
    status_codes=["404"],
)
