#!/usr/bin/env python
"""Event ingestion benchmark: store + process N events on PostgreSQL, against a raw COPY baseline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairway .venv/bin/python benchmarks/ingest.py
    ... --events 100000 --workers 2 --json var/bench-ingest.json

Runs in a scratch database (<name>_bench_ingest, created and dropped here), never in yours. The
events are the demo club's (every kind of SCL, TeeTime and Messaging event), and about 80% of the people
they mention already have a profile, so ~20% of the events are about people not seen before.

Phases, each timed on its own:
- raw COPY: the same rows COPYed into an index-less scratch table, the floor for "write N rows";
- store: signed batches of up to 1,000 POSTed to /api/v1/events in-process (JSON, signature,
  validation, insert; the processing task is published to an in-memory broker and dropped);
- process: the stored events in batches of 1,000 through the processing task's code, split over
  `--workers` processes as Celery workers would take them (resolve, survivorship, timeline);
- end to end: N / (store + process).
"""

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ["CELERY_BROKER_URL"] = "memory://"  # published tasks go nowhere; this run processes itself

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from scratch import scratch_database  # noqa: E402

from crm.demo.seeding import demo_signing_secret, demo_source_batches  # noqa: E402
from crm.demo.story import demo_club_story  # noqa: E402
from crm.events.processing import events_process  # noqa: E402
from crm.events.signatures import signature_header  # noqa: E402
from crm.models import Activity, Club, CustomerProfile, InboundEvent, ProfileIdentifier  # noqa: E402

TARGET_EVENTS_PER_SECOND = 2000
EVENTS_PER_PERSON = 27  # about what the demo story gives; used to size the population


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="Processes storing and processing (default 2).")
    parser.add_argument("--known", type=float, default=0.8, help="Share of people with a profile beforehand.")
    parser.add_argument("--json", help="Write the figures to this file.")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database afterwards.")
    options = parser.parse_args()

    if connection.vendor != "postgresql":
        sys.exit("This benchmark measures PostgreSQL: set DATABASE_URL=postgres://… (see README).")
    with scratch_database("ingest", keep=options.keep):
        figures = run(options)
    print_table(figures, options)
    if options.json:
        Path(options.json).write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\nFigures written to {options.json}")


def run(options) -> dict:
    club = Club.objects.create(slug="bench", name="Benchmark Golf Club", default_phone_region="ZA", country="ZA")
    print(f"Generating about {options.events:,} events …", flush=True)
    people = max(options.events // EVENTS_PER_PERSON, 10)
    story = demo_club_story(club_slug=club.slug, profiles=people, seed=11)
    while len(story.events) < options.events:  # small clubs tell fewer events per person
        people = int(people * 1.25) + 1
        story = demo_club_story(club_slug=club.slug, profiles=people, seed=11)
    events = story.events[: options.events]
    known = preload_known_people(club, story.people, options.known)
    secrets = {source: demo_signing_secret(club=club, source=source) for source in ("scl", "teetime", "messaging")}
    batches = list(demo_source_batches(events, 1000))
    figures = {
        "events": len(events),
        "people": len(story.people),
        "profiles_before": known,
        "workers": options.workers,
        "batches": len(batches),
    }

    print("Raw COPY baseline …", flush=True)
    figures["copy_seconds"] = copy_baseline(events)

    print(f"Storing through POST /api/v1/events ({options.workers} workers) …", flush=True)
    connections.close_all()  # each forked worker opens its own connection
    started = time.perf_counter()
    signed = [(secrets[batch[0]["source"]], batch) for batch in batches]
    shares = [signed[i :: options.workers] for i in range(options.workers)]
    with multiprocessing.get_context("fork").Pool(options.workers) as pool:
        counts = pool.map(post_batches, shares)
    figures["store_seconds"] = time.perf_counter() - started
    figures["accepted"] = sum(count["accepted"] for count in counts)
    figures["rejected"] = sum(count["rejected"] for count in counts)

    print(f"Processing ({options.workers} workers) …", flush=True)
    ids = list(InboundEvent.objects.for_club(club).order_by("occurred_at", "pk").values_list("pk", flat=True))
    chunks = [ids[start : start + 1000] for start in range(0, len(ids), 1000)]
    connections.close_all()
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(options.workers) as pool:
        pool.map(process_batches, [chunks[i :: options.workers] for i in range(options.workers)])
    figures["process_seconds"] = time.perf_counter() - started

    statuses = dict(InboundEvent.objects.for_club(club).values_list("status").annotate(n=django.db.models.Count("pk")))
    figures["statuses"] = statuses
    figures["profiles_after"] = CustomerProfile.objects.for_club(club).count()
    figures["activities"] = Activity.objects.for_club(club).count()
    n = figures["events"]
    figures["copy_events_per_second"] = n / figures["copy_seconds"]
    figures["store_events_per_second"] = n / figures["store_seconds"]
    figures["process_events_per_second"] = n / figures["process_seconds"]
    figures["end_to_end_seconds"] = figures["store_seconds"] + figures["process_seconds"]
    figures["end_to_end_events_per_second"] = n / figures["end_to_end_seconds"]
    figures["target_events_per_second"] = TARGET_EVENTS_PER_SECOND
    figures["meets_target"] = figures["end_to_end_events_per_second"] >= TARGET_EVENTS_PER_SECOND
    return figures


def preload_known_people(club, people, share: float) -> int:
    """Profiles and identifiers for `share` of the people, as if they had been ingested before."""
    rng = random.Random(5)
    chosen = [person for person in people if rng.random() < share]
    profiles = CustomerProfile.objects.bulk_create(
        [CustomerProfile(club=club, first_name=p.first_name, last_name=p.last_name) for p in chosen], batch_size=2000
    )
    seen = story_start = django.utils.timezone.now()
    identifiers = []
    for person, profile in zip(chosen, profiles, strict=True):
        keys = [
            ("email", person.email),
            ("scl_member_id", person.member_id),
            ("teetime_player_id", person.player_id),
            ("messaging_contact_id", person.contact_id),
        ]
        identifiers += [
            ProfileIdentifier(
                club=club,
                profile=profile,
                kind=kind,
                value=value,
                source="backfill",
                first_seen_at=seen,
                last_seen_at=story_start,
            )
            for kind, value in keys
            if value
        ]
    ProfileIdentifier.objects.bulk_create(identifiers, batch_size=5000)
    return len(profiles)


def copy_baseline(events: list[dict]) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_copy (source text, event_id text, type text, occurred_at timestamptz, "
            "schema_version int, data jsonb)"
        )
        started = time.perf_counter()
        with cursor.cursor.copy(
            "COPY bench_copy (source, event_id, type, occurred_at, schema_version, data) FROM STDIN"
        ) as copy:
            for event in events:
                copy.write_row(
                    (
                        event["source"],
                        event["id"],
                        event["type"],
                        event["occurred_at"],
                        event["schema_version"],
                        json.dumps(event["data"]),
                    )
                )
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_copy")
    return elapsed


def post_batches(share) -> dict[str, int]:
    client = Client(HTTP_HOST="localhost")
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for secret, batch in share:
        body = json.dumps(batch).encode()
        response = client.post(
            "/api/v1/events",
            data=body,
            content_type="application/json",
            HTTP_X_SIGNATURE=signature_header(secret=secret, body=body),
        )
        if response.status_code != 202:
            raise RuntimeError(f"{response.status_code}: {response.content[:300]!r}")
        for key in totals:
            totals[key] += response.json()[key]
    connections.close_all()
    return totals


def process_batches(chunks) -> None:
    for chunk in chunks:
        events_process(event_ids=chunk)
    connections.close_all()


def print_table(figures: dict, options) -> None:
    n = figures["events"]
    copy_rate = figures["copy_events_per_second"]
    rows = [
        ("raw COPY into a scratch table (baseline)", figures["copy_seconds"], copy_rate),
        (
            f"store: POST /api/v1/events, {options.workers} workers",
            figures["store_seconds"],
            figures["store_events_per_second"],
        ),
        (
            f"process: resolve + apply + timeline, {options.workers} workers",
            figures["process_seconds"],
            figures["process_events_per_second"],
        ),
        ("end to end: store + process", figures["end_to_end_seconds"], figures["end_to_end_events_per_second"]),
    ]
    print()
    print(f"Ingestion of {n:,} events ({figures['people']:,} people, {figures['profiles_before']:,} known beforehand)")
    print(f"{'phase':<50} {'seconds':>9} {'events/s':>10} {'COPY / phase':>13}")
    print("-" * 85)
    for label, seconds, rate in rows:
        print(f"{label:<50} {seconds:>9.2f} {rate:>10,.0f} {copy_rate / rate:>12.1f}x")
    print("-" * 85)
    print(
        f"statuses {figures['statuses']}; profiles {figures['profiles_before']:,} → {figures['profiles_after']:,}; "
        f"activities {figures['activities']:,}"
    )
    verdict = "meets" if figures["meets_target"] else "MISSES"
    print(
        f"End to end {figures['end_to_end_events_per_second']:,.0f} events/s {verdict} the "
        f"{TARGET_EVENTS_PER_SECOND:,} events/s target."
    )


if __name__ == "__main__":
    main()
