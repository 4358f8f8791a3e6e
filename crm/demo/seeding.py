"""Seeding the demo club through the front door: each source's events signed and POSTed to
`/api/v1/events`, so what a newcomer sees is what the pipeline made of them."""

import json
from dataclasses import dataclass

from django.test import Client

from crm.demo.story import demo_club_events
from crm.events.replay import signing_secret_create
from crm.events.signatures import signature_header
from crm.kernel.actor import Actor
from crm.models import EventSigningSecret

DEMO_SECRET_LABEL = "Demo seeder"


@dataclass
class SeedProgress:
    sent: int
    total: int
    counts: dict[str, int]


def demo_club_seed(*, club, profiles: int, seed: int = 7, batch_size: int = 500, on_progress=None) -> dict[str, int]:
    """Sign the demo club's events as each source would and POST them to `/api/v1/events`.

    Goes through the real endpoint (signature check, validation, store, processing task), so what
    the newcomer sees is what the pipeline made. Batches are one source's events in
    time windows, as the three systems would push them. Returns the endpoint's counts.
    """
    secrets = {source: demo_signing_secret(club=club, source=source) for source in ("scl", "teetime", "messaging")}
    events = demo_club_events(club_slug=club.slug, profiles=profiles, seed=seed)
    client = Client(HTTP_HOST="localhost")
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    sent = 0
    for batch in demo_source_batches(events, batch_size):
        body = json.dumps(batch).encode()
        response = client.post(
            "/api/v1/events",
            data=body,
            content_type="application/json",
            HTTP_X_SIGNATURE=signature_header(secret=secrets[batch[0]["source"]], body=body),
        )
        if response.status_code != 202:
            raise RuntimeError(f"The events endpoint answered {response.status_code}: {response.content[:500]!r}")
        for key in totals:
            totals[key] += response.json()[key]
        sent += len(batch)
        if on_progress:
            on_progress(SeedProgress(sent=sent, total=len(events), counts=dict(totals)))
    return totals


def demo_signing_secret(*, club, source: str) -> str:
    """The seeder's own secret per source, made once and reused (it is readable to the server)."""
    existing = EventSigningSecret.objects.for_club(club).filter(source=source, label=DEMO_SECRET_LABEL, is_active=True)
    if secret := existing.first():
        return secret.secret
    _, value = signing_secret_create(club=club, source=source, label=DEMO_SECRET_LABEL, actor=Actor.system())
    return value


def demo_source_batches(events: list[dict], batch_size: int):
    """Time windows of events, each split by source: the sources push concurrently, so a window
    arrives as one batch per source (slightly out of order across sources, which the pipeline's
    survivorship handles) instead of thousands of tiny alternating posts."""
    window = batch_size * 3
    for start in range(0, len(events), window):
        by_source: dict[str, list[dict]] = {}
        for event in events[start : start + window]:
            by_source.setdefault(event["source"], []).append(event)
        for batch in by_source.values():
            for offset in range(0, len(batch), batch_size):
                yield batch[offset : offset + batch_size]
