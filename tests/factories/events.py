"""Building and sending events the way SCL, TeeTime and Messaging do."""

import itertools
import json
from datetime import datetime, timedelta

from django.utils import timezone

from crm.events.replay import signing_secret_create
from crm.events.signatures import signature_header
from crm.kernel.actor import Actor

_ids = itertools.count(1)
SOURCE_OF_TYPE_PREFIX = {
    "member": "scl",
    "membership": "scl",
    "payment": "scl",
    "player": "teetime",
    "booking": "teetime",
    "round": "teetime",
    "tournament": "teetime",
    "contact": "messaging",
    "consent": "messaging",
    "message": "messaging",
}


def envelope(
    type_name: str,
    data: dict,
    *,
    club,
    at: datetime | None = None,
    event_id: str | None = None,
    source: str | None = None,
) -> dict:
    return {
        "id": event_id or f"evt-{next(_ids)}",
        "source": source or SOURCE_OF_TYPE_PREFIX[type_name.split(".")[0]],
        "type": type_name,
        "occurred_at": (at or timezone.now()).isoformat(),
        "club": club.slug,
        "schema_version": 1,
        "data": data,
    }


def ago(**kwargs) -> datetime:
    return timezone.now() - timedelta(**kwargs)


def secret_for(club, source: str) -> str:
    _, value = signing_secret_create(club=club, source=source, label="test", actor=Actor.system())
    return value


def post_events(client, events, *, secret: str, timestamp: int | None = None, body: bytes | None = None):
    body = body if body is not None else json.dumps(events).encode()
    return client.post(
        "/api/v1/events",
        data=body,
        content_type="application/json",
        HTTP_X_SIGNATURE=signature_header(secret=secret, body=body, timestamp=timestamp),
    )
