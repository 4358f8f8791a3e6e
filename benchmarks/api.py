#!/usr/bin/env python
"""API latency on a large club: profile 360 (REST and GraphQL), timeline pages, profile search.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairway_bench REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python -m benchmarks.dataset --profiles 1000000 --activities 20000000 --skip-fk-checks
    DATABASE_URL=… REDIS_URL=… .venv/bin/python benchmarks/api.py [--club bench-large] [--requests 2000]
        [--seed 11] [--json FILE]

Reads the club `python -m benchmarks.dataset` built (it does not build one), picks its samples at
random from that club (profiles, emails, full names, people with long timelines), then sends
`--requests` requests per row through Django's test client: the whole server side (URL
routing, middleware, API-key authentication with its hashed-key lookup, scope check, throttle
counters in the cache, the queries, serialisation to JSON), without a network hop or a WSGI
server in front. Each row first gets 5% warm-up requests that are not counted. Prints p50/p95/p99
and mean per row, the issue's p95 target, and each p95 as a multiple of the baseline: GET
/api/v1/me, the same stack with no profile data behind it.

Warm cache: before measuring, the tables and indexes these reads touch are read once into the
operating system's cache with pg_prewarm (about 9 GB at 1M/20M, on a 24 GB machine), as a
serving database's working set is; `--no-prewarm` measures whatever happens to be cached.

Throttle rates are lifted for the run (the counters are still kept), and DEBUG is
off so Django doesn't keep every SQL statement in memory.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ["DJANGO_DEBUG"] = "false"
# Throttles stay on (their counters are still kept in Redis), at a rate the run never reaches.
os.environ["API_RATE_PER_KEY"] = os.environ["API_RATE_PER_CLUB"] = "100000/s"
os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from crm.kernel.actor import Actor  # noqa: E402
from crm.kernel.pagination import keyset_cursor  # noqa: E402
from crm.models import Activity, ApiScope, Club  # noqa: E402
from crm.services.api_keys import api_key_create, api_key_revoke  # noqa: E402

# p95 targets from the API issue, in milliseconds.
TARGETS = {"profile_360": 50, "timeline": 20, "search": 100}
GRAPHQL_360 = """
query Profile360($id: ID!) {
  profile(id: $id) {
    id firstName lastName primaryEmail membershipStatus membershipTier handicapIndex roundsPlayed lastRoundAt
    identifiers { kind value source lastSeenAt }
    tags
    notes(first: 5) { body isPinned createdAt }
    recentActivities(first: 20) { occurredAt source type summary amount }
    scores { engagement churnRisk lifecycleStage }
  }
}
"""
LONG_TIMELINE = 1_000  # activities: people whose deep pages are worth measuring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--club", default="bench-large", help="Slug of a club built by `python -m benchmarks.dataset`.")
    parser.add_argument("--requests", type=int, default=2_000, help="Measured requests per row (default 2,000).")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--long-timeline",
        type=int,
        default=LONG_TIMELINE,
        help=f"Entries a timeline needs for the deep-page row (default {LONG_TIMELINE:,}).",
    )
    parser.add_argument("--no-prewarm", action="store_true", help="Don't read the tables into the OS cache first.")
    parser.add_argument("--json", help="Write the figures to this file.")
    options = parser.parse_args()

    if connection.vendor != "postgresql":
        sys.exit("benchmarks/api.py measures PostgreSQL (full-text search, the dataset's COPY); set DATABASE_URL.")
    club = Club.objects.filter(slug=options.club).first()
    if club is None:
        sys.exit(f"No club '{options.club}' here: build it first with `python -m benchmarks.dataset`.")
    prewarmed = False if options.no_prewarm else prewarm()
    rng = random.Random(options.seed)
    samples = pick_samples(club, options.requests, rng, options.long_timeline)
    print(
        f"Club {club.slug}: {samples['profiles']:,} profiles, {samples['activities']:,} activities "
        f"({connection.vendor}, cache {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]})",
        flush=True,
    )

    key, value = api_key_create(club=club, name="benchmark", scopes=[ApiScope.PROFILES_READ], actor=Actor.system())
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {value}")
    try:
        rows = measure_rows(client, samples, options.requests, options.long_timeline)
    finally:
        api_key_revoke(club=club, key=key, actor=Actor.system())

    figures = {
        "club": club.slug,
        "profiles": samples["profiles"],
        "activities": samples["activities"],
        "requests_per_row": options.requests,
        "database": connection.vendor,
        "measured_through": "Django test client (server side: middleware, auth, throttles, queries, JSON)",
        "cache": "warm (pg_prewarm into the OS cache)" if prewarmed else "as found",
        "rows": rows,
    }
    print_table(figures)
    if options.json:
        Path(options.json).write_text(json.dumps(figures, indent=2))
        print(f"\nFigures written to {options.json}")


PREWARM_TABLES = ("crm_customerprofile", "crm_profileidentifier", "crm_profiletag", "crm_tag", "crm_activity")


def prewarm() -> bool:
    """Read the tables and indexes the measured requests use into the OS cache (pg_prewarm 'read')."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_prewarm'")
        if cursor.fetchone() is None:
            print("pg_prewarm is not installed: measuring with whatever is cached", flush=True)
            return False
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cursor.execute(
            "SELECT coalesce(sum(pg_prewarm(c.oid, 'read')), 0) FROM pg_class c "
            "WHERE c.relname = ANY(%s) OR c.oid IN (SELECT indexrelid FROM pg_index i JOIN pg_class t "
            "ON t.oid = i.indrelid WHERE t.relname = ANY(%s))",
            [list(PREWARM_TABLES), list(PREWARM_TABLES)],
        )
        blocks = cursor.fetchone()[0]
    print(f"Prewarmed {blocks * 8 / 1024 / 1024:.1f} GB into the OS cache in {time.perf_counter() - started:.0f} s")
    return True


def pick_samples(club, count: int, rng: random.Random, long_timeline: int) -> dict:
    """Random profiles, emails and names of this club, and cursors deep into long timelines."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Activities per club straight off the timeline index (an index-only count).
        cursor.execute("SELECT count(*) FROM crm_activity WHERE club_id = %s", [club.pk])
        activities_in_club = cursor.fetchone()[0]
        cursor.execute(
            "SELECT min(id), max(id), count(*) FROM crm_customerprofile WHERE club_id = %s AND merged_into_id IS NULL",
            [club.pk],
        )
        low, high, profiles = cursor.fetchone()
        # Ids drawn from the club's range (benchmarks.dataset reserves a contiguous block), kept if live.
        wanted = sorted({rng.randint(low, high) for _ in range(count * 2)})
        cursor.execute(
            "SELECT id, first_name, last_name, primary_email FROM crm_customerprofile "
            "WHERE club_id = %s AND id = ANY(%s) AND merged_into_id IS NULL AND NOT is_erased",
            [club.pk, wanted],
        )
        people = cursor.fetchall()
        rng.shuffle(people)
        people = people[:count]
        cursor.execute(
            "SELECT profile_id FROM crm_activity WHERE club_id = %s GROUP BY profile_id HAVING count(*) >= %s",
            [club.pk, long_timeline],
        )
        long_timelines = [row[0] for row in cursor.fetchall()]
    rng.shuffle(long_timelines)
    deep_cursors = []
    for profile_id in long_timelines[:200]:
        activities = list(
            Activity.objects.for_club(club)
            .filter(profile_id=profile_id)
            .order_by("-occurred_at", "-id")
            .only("id", "occurred_at")
        )
        # A page three quarters of the way back in this person's history.
        middle = activities[int(len(activities) * 0.75)]
        deep_cursors.append((profile_id, keyset_cursor(middle, ordering=("-occurred_at", "-id"))))
    print(f"Picked samples in {time.perf_counter() - started:.1f} s", flush=True)
    return {
        "profiles": profiles,
        "activities": activities_in_club,
        "people": people,
        "deep_cursors": deep_cursors,
    }


def measure_rows(client: Client, samples: dict, count: int, long_timeline: int) -> list[dict]:
    people, deep = samples["people"], samples["deep_cursors"]
    if not people or not deep:
        sys.exit("The club needs profiles and some long timelines; build it with `python -m benchmarks.dataset`.")

    def cycle(items):
        return [items[index % len(items)] for index in range(count)]

    graphql = [
        {"data": json.dumps({"query": GRAPHQL_360, "variables": {"id": pk}}), "content_type": "application/json"}
        for pk, *_ in cycle(people)
    ]
    plans = [
        ("baseline: GET /api/v1/me (auth + throttle + JSON, no data)", None, [("get", "/api/v1/me", {})] * count),
        (
            "profile 360, REST: GET /profiles/{id}",
            "profile_360",
            [("get", f"/api/v1/profiles/{pk}", {}) for pk, *_ in cycle(people)],
        ),
        (
            "profile 360, GraphQL: profile(id) + 20 activities, notes, tags, ids",
            "profile_360",
            [("post", "/graphql/", body) for body in graphql],
        ),
        (
            "timeline, first page (50)",
            "timeline",
            [("get", f"/api/v1/profiles/{pk}/timeline", {}) for pk, *_ in cycle(people)],
        ),
        (
            f"timeline, deep cursor page (75% back, ≥{long_timeline:,} entries)",
            "timeline",
            [("get", f"/api/v1/profiles/{pk}/timeline?cursor={cursor}", {}) for pk, cursor in cycle(deep)],
        ),
        (
            "search by full name: ?q=first last",
            "search",
            [("get", "/api/v1/profiles", {"q": f"{first} {last}"}) for _, first, last, _ in cycle(people)],
        ),
        (
            "search by email: ?q=someone@example",
            "search",
            [("get", "/api/v1/profiles", {"q": email}) for _, _, _, email in cycle(people) if email] or [],
        ),
        (
            "search by surname only (informational: ~1 in 35 match)",
            None,
            [("get", "/api/v1/profiles", {"q": last}) for _, _, last, _ in cycle(people)][: max(count // 4, 1)],
        ),
    ]
    rows, baseline_p95 = [], None
    for label, target, requests in plans:
        timings = run_requests(client, requests)
        p50, p95, p99 = percentiles(timings)
        baseline_p95 = baseline_p95 or p95
        target_ms = TARGETS.get(target)
        rows.append(
            {
                "row": label,
                "requests": len(timings),
                "p50_ms": round(p50, 2),
                "p95_ms": round(p95, 2),
                "p99_ms": round(p99, 2),
                "mean_ms": round(statistics.fmean(timings), 2),
                "target_p95_ms": target_ms,
                "meets_target": None if target_ms is None else p95 <= target_ms,
                "p95_vs_baseline": round(p95 / baseline_p95, 1),
            }
        )
        print(f"  measured: {label}", flush=True)
    return rows


def run_requests(client: Client, requests: list) -> list[float]:
    warm_up = requests[: max(len(requests) // 20, 1)]
    for method, path, data in warm_up:
        call(client, method, path, data)
    timings = []
    for method, path, data in requests:
        started = time.perf_counter()
        call(client, method, path, data)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def call(client: Client, method: str, path: str, data: dict):
    response = client.post(path, **data) if method == "post" else client.get(path, data)
    if response.status_code != 200 or (method == "post" and "errors" in response.json()):
        raise SystemExit(f"{method.upper()} {path} answered {response.status_code}: {response.content[:300]!r}")
    return response


def percentiles(timings: list[float]) -> tuple[float, float, float]:
    if len(timings) < 2:
        return (timings[0],) * 3
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def print_table(figures: dict) -> None:
    print()
    print(
        f"API latency, club of {figures['profiles']:,} profiles / {figures['activities']:,} activities, "
        f"{figures['requests_per_row']:,} requests per row, {figures['cache']} cache,\n"
        f"{figures['measured_through']}"
    )
    header = f"{'request':<68} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'target':>8} {'×base':>6}"
    print(header)
    print("-" * len(header))
    for row in figures["rows"]:
        target = "" if row["target_p95_ms"] is None else f"≤{row['target_p95_ms']}"
        verdict = "" if row["meets_target"] is None else (" ok" if row["meets_target"] else " MISSED")
        print(
            f"{row['row']:<68} {row['requests']:>6} {row['p50_ms']:>8.2f} {row['p95_ms']:>8.2f} "
            f"{row['p99_ms']:>8.2f} {target:>8} {row['p95_vs_baseline']:>6.1f}{verdict}"
        )


if __name__ == "__main__":
    main()
