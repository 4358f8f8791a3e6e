"""Inbound events over HTTP (SPEC 13, 14): the push transport, and the integrator's view of what arrived.

POST /api/v1/events takes events signed by the source (X-Signature), or sent with a club API key
holding `events:ingest`. /api/v1/inbound-events lists what was received with its status and
rejection reasons, and replays rejected or failed events after a fix.
"""

import json

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.edges.api.auth import API_KEY_KEYWORD, ClubApiView, api_key_from_header
from crm.edges.api.errors import error_response, invalid_fields, query_datetime
from crm.edges.api.schema import NOT_FOUND_EXAMPLE, errors
from crm.events.replay import events_replay
from crm.events.signatures import SignatureError, signature_verify
from crm.events.store import MAX_BATCH, events_store
from crm.kernel.actor import Actor
from crm.kernel.tenancy import get_object_in_club_or_404
from crm.models import INBOUND_EVENT_FIELDS, ApiScope, Club, InboundEvent, InboundEventStatus
from crm.selectors import inbound_events_filtered


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
        description="The event catalog (types and their `data`) is in docs/events.md. Signed per club and source "
        "(X-Signature), or sent with a club API key holding `events:ingest` (then `club` must be the key's club).",
        auth=[{"ApiKey": []}, {}],
        parameters=[
            OpenApiParameter(
                "X-Signature",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description='`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, within 5 minutes. '
                "Required unless the request carries a club API key with `events:ingest`.",
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
            **errors(400, 401, 403, 413),
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
        api_key, refusal = self._api_key(request)
        if refusal is not None:
            return refusal
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
        if api_key is not None:
            club = api_key.club
            if club_slug != club.slug:  # the key decides the club; a payload naming another is a mistake
                return error_response(
                    status_code=400,
                    code="club_mismatch",
                    message=f"This key belongs to club '{club.slug}'; the events name '{club_slug}'.",
                )
        else:
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

    @staticmethod
    def _api_key(request):
        """(key, None) for a club key sent instead of a signature, (None, None) for none, else a refusal."""
        try:
            key = api_key_from_header(request)
        except AuthenticationFailed as error:
            return None, error_response(
                status_code=401,
                code="authentication_failed",
                message=str(error.detail),
                headers={"WWW-Authenticate": API_KEY_KEYWORD},
            )
        if key is None:
            return None, None
        if ApiScope.EVENTS_INGEST not in key.scopes:
            return None, error_response(
                status_code=403,
                code="permission_denied",
                message=f"This needs the '{ApiScope.EVENTS_INGEST}' scope.",
            )
        return key, None


def _too_large(message: str):
    return error_response(status_code=413, code="payload_too_large", message=message)


# --- What arrived -----------------------------------------------------------------------------


class InboundEventSerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(help_text="The sender's id for the event (the idempotency key with source).")
    status = serializers.ChoiceField(
        choices=InboundEventStatus.choices,
        help_text="received (queued), processed, rejected (invalid; see errors), failed (will retry), dead.",
    )
    errors = serializers.ListField(
        child=serializers.DictField(), help_text="Why it was rejected or failed: `{field, code, message}` each."
    )
    warnings = serializers.ListField(child=serializers.DictField(), help_text="Values dropped while applying it.")

    class Meta:
        model = InboundEvent
        fields = ("id", *INBOUND_EVENT_FIELDS)
        read_only_fields = fields


class InboundEventDetailSerializer(InboundEventSerializer):
    class Meta(InboundEventSerializer.Meta):
        fields = (*InboundEventSerializer.Meta.fields, "data")
        read_only_fields = fields


class ReplayRequestSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000, help_text="Inbound event ids."
    )


ReplayResult = inline_serializer(
    "ReplayResult",
    {
        "queued": serializers.IntegerField(help_text="Valid now and queued for processing."),
        "still_invalid": serializers.IntegerField(help_text="Rejected again; their errors are updated."),
        "not_replayable": serializers.IntegerField(help_text="Processed, queued or not in your club."),
    },
)


class InboundEventPagination(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = ("-received_at", "-id")


class EventsApiView(ClubApiView):
    read_scope = ApiScope.EVENTS_INGEST
    write_scope = ApiScope.EVENTS_INGEST


class InboundEventListView(EventsApiView):
    """GET /api/v1/inbound-events?status=&source=&type=&received_since=&received_until=&cursor="""

    @extend_schema(
        operation_id="inbound_events_list",
        summary="What your systems sent, newest first, with status (needs events:ingest)",
        parameters=[
            OpenApiParameter("status", str, enum=InboundEventStatus.values),
            OpenApiParameter("source", str, description="scl, teetime or messaging."),
            OpenApiParameter("type", str, description="Event type, e.g. member.updated."),
            OpenApiParameter("event_id", str, description="The sender's event id."),
            OpenApiParameter("received_since", OpenApiTypes.DATETIME),
            OpenApiParameter("received_until", OpenApiTypes.DATETIME),
            OpenApiParameter("cursor", str, description="From the previous page's `next`/`previous` link."),
            OpenApiParameter("page_size", int, description="1–200, default 50."),
        ],
        responses={200: InboundEventSerializer(many=True), **errors(400, 401, 403, 429)},
    )
    def get(self, request):
        params = request.query_params
        status_filter = params.get("status") or None
        if status_filter and status_filter not in InboundEventStatus.values:
            raise invalid_fields({"status": [f"Use one of {', '.join(InboundEventStatus.values)}."]})
        dates = {name: query_datetime(params, name) for name in ("received_since", "received_until")}
        queryset = inbound_events_filtered(
            club=self.club,
            status=status_filter,
            source=params.get("source") or None,
            type=params.get("type") or None,
            event_id=params.get("event_id") or None,
            **dates,
        )
        paginator = InboundEventPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(InboundEventSerializer(page, many=True).data)


class InboundEventDetailView(EventsApiView):
    """GET /api/v1/inbound-events/{id}"""

    @extend_schema(
        operation_id="inbound_events_retrieve",
        summary="One received event with its data, status and reasons",
        responses={200: InboundEventDetailSerializer, **errors(401, 403, 404, 429)},
        examples=[NOT_FOUND_EXAMPLE],
    )
    def get(self, request, event_id: int):
        event = get_object_in_club_or_404(InboundEvent.objects.for_club(self.club), self.club, pk=event_id)
        return Response(InboundEventDetailSerializer(event).data)


class InboundEventReplayView(EventsApiView):
    """POST /api/v1/inbound-events/replay {"ids": [...]}"""

    @extend_schema(
        operation_id="inbound_events_replay",
        summary="Replay rejected or failed events after a fix",
        description="Rejected events are validated again against today's catalog and queued only if they pass; "
        "processed events are never replayed (their effects would apply twice).",
        request=ReplayRequestSerializer,
        responses={200: ReplayResult, **errors(400, 401, 403, 429)},
        examples=[
            OpenApiExample("Replay two events", value={"ids": [5120, 5121]}, request_only=True),
            OpenApiExample(
                "One queued, one still invalid",
                value={"queued": 1, "still_invalid": 1, "not_replayable": 0},
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        serializer = ReplayRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = list(dict.fromkeys(serializer.validated_data["ids"]))
        return Response(events_replay(club=self.club, event_ids=ids, actor=Actor.from_request(request)))
