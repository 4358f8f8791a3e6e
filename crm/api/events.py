"""POST /api/v1/events — the HTTP transport for SCL, TeeTime and Messaging events (SPEC 13)."""

import json

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.errors import error_response
from crm.api.schema import errors
from crm.events.signatures import SignatureError, signature_verify
from crm.events.store import MAX_BATCH, events_store
from crm.models import Club


class EventIngestView(APIView):
    """Takes one event or a batch of up to 1,000, signed by the source; answers 202 per event.

    Errors answer before anything is stored: 400 malformed JSON or a mixed batch, 401 a bad or
    stale signature, 413 too large.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []

    @extend_schema(
        operation_id="events_ingest",
        summary="Push one event or a batch of up to 1,000 (SCL, TeeTime, Messaging)",
        description="The event catalog (types and their `data`) is in docs/events.md. Signed per club and source.",
        auth=[],
        parameters=[
            OpenApiParameter(
                "X-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description='`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, within 5 minutes.',
            )
        ],
        request=inline_serializer(
            "EventEnvelope",
            {
                "id": serializers.CharField(),
                "source": serializers.ChoiceField(choices=["scl", "teetime", "messaging"]),
                "type": serializers.CharField(),
                "occurred_at": serializers.DateTimeField(),
                "club": serializers.CharField(),
                "schema_version": serializers.IntegerField(),
                "data": serializers.DictField(),
            },
        ),
        responses={
            202: inline_serializer(
                "EventIngestResult",
                {
                    "accepted": serializers.IntegerField(),
                    "duplicate": serializers.IntegerField(),
                    "rejected": serializers.IntegerField(),
                    "results": serializers.ListField(child=serializers.DictField()),
                },
            ),
            **errors(400, 401, 413),
        },
        examples=[
            OpenApiExample(
                "A new TeeTime player",
                value={
                    "id": "evt-1",
                    "source": "teetime",
                    "type": "player.created",
                    "occurred_at": "2026-11-20T09:15:00Z",
                    "club": "demo",
                    "schema_version": 1,
                    "data": {"player_id": "P1", "first_name": "Ann", "email": "ann@example.com"},
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.EVENTS_MAX_BODY_BYTES:
            return _too_large(f"The body is larger than {settings.EVENTS_MAX_BODY_BYTES} bytes.")
        body = request.body
        if len(body) > settings.EVENTS_MAX_BODY_BYTES:
            return _too_large(f"The body is larger than {settings.EVENTS_MAX_BODY_BYTES} bytes.")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            return error_response(status_code=400, code="malformed_json", message=f"The body is not JSON: {error}")
        events = payload if isinstance(payload, list) else [payload]
        if not events or not all(isinstance(event, dict) for event in events):
            return error_response(
                status_code=400,
                code="invalid_batch",
                message="Send one event object or a non-empty list of event objects.",
            )
        if len(events) > MAX_BATCH:
            return _too_large(f"A batch holds at most {MAX_BATCH} events; this one has {len(events)}.")
        origins = {(event.get("club"), event.get("source")) for event in events}
        if len(origins) != 1 or not all(isinstance(part, str) and part for part in next(iter(origins))):
            return error_response(
                status_code=400,
                code="invalid_batch",
                message="Every event in a batch needs the same 'club' and 'source' (a batch is signed by one "
                "source for one club).",
            )
        club_slug, source = next(iter(origins))
        club = Club.objects.filter(slug=club_slug).first()
        try:
            if club is None:
                raise SignatureError("The signature does not match.")  # don't reveal which clubs exist
            signature_verify(club=club, source=source, header=request.headers.get("X-Signature", ""), body=body)
        except SignatureError as error:
            return error_response(status_code=401, code="invalid_signature", message=str(error))
        outcome = events_store(club=club, raw_events=events, transport="http")
        return Response(
            {**outcome.counts(), "results": [result.as_dict() for result in outcome.results]},
            status=status.HTTP_202_ACCEPTED,
        )


def _too_large(message: str):
    return error_response(status_code=413, code="payload_too_large", message=message)
