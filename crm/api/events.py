"""POST /api/v1/events — the HTTP transport for SCL, TeeTime and Messaging events (SPEC 13)."""

import json

from django.conf import settings
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.errors import error_response
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
