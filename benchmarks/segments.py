#!/usr/bin/env python
"""Segment refresh on a large club, against the fastest hand-written SQL for the same set.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairway_bench .venv/bin/python benchmarks/segments.py \\
        [--club bench-large] [--repeat 3] [--json FILE]

Reads the club `python -m benchmarks.dataset` built. The segment: active members of three tiers who
opted in to email, played at least 3 rounds in the last 90 days and opened no email in the last
60 (five conditions, two on activities). Measured in one run, on one connection with the app's
settings (so the same planner settings for every row), each row the median of --repeat runs
taken in rounds (every hand-written form, a full refresh and a steady one per round):

- the hand-written query in four forms (correlated count, grouped IN … HAVING, the candidates
  joined to the window's rounds and grouped, EXISTS on the third matching round), each as SELECT
  of the matching ids after one unmeasured warm-up; the fastest is the baseline, and every form
  must give the same set as the compiled rule (checked);
- a full refresh into an empty segment (every match is a newcomer: the matches are read and
  12k members and 12k changes written), then a steady-state refresh (nothing changed: the diff
  is empty), both through `segment_refresh`; the segment is emptied (unmeasured) before each full
  refresh, and its members must be the compiled rule's set (checked);
- an incremental refresh of only the touched profiles after 1,000 random candidates each get
  three new rounds (written straight into the timeline, as processing would); new candidates for
  each run.

The benchmark's segment and rounds are deleted afterwards. Exits non-zero if a set differs.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ["DJANGO_DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm.models import Activity, Club, CustomerProfile  # noqa: E402
from marketing.models import Segment, SegmentChange, SegmentMember  # noqa: E402
from marketing.services.rules.compiler import rule_queryset  # noqa: E402
from marketing.services.segments import segment_preview, segment_refresh  # noqa: E402

TIERS = ["Gold", "Platinum", "Full"]
RULE = {
    "all": [
        {"field": "membership_status", "op": "eq", "value": "active"},
        {"field": "tier", "op": "in", "value": TIERS},
        {"field": "email_opt_in", "op": "eq", "value": True},
        {"activity": {"type": "round.completed", "count": {"op": "gte", "value": 3}, "within_last_days": 90}},
        {"not": {"activity": {"type": "message.opened", "within_last_days": 60}}},
    ]
}
TARGETS = {"full_refresh_seconds": 3.0, "vs_hand_written": 1.5, "incremental_seconds": 0.5}

PROFILE_FILTER = """
    p.club_id = %(club)s AND NOT p.is_erased AND p.merged_into_id IS NULL
    AND p.membership_status = 'active' AND p.membership_tier = ANY(%(tiers)s) AND p.email_opt_in
"""
NO_RECENT_OPEN = """
    NOT EXISTS (SELECT 1 FROM crm_activity o WHERE o.club_id = %(club)s AND o.profile_id = p.id
                AND o.type = 'message.opened' AND o.occurred_at >= %(opened_since)s)
"""
HAND_WRITTEN = {
    "correlated count": f"""
        SELECT p.id FROM crm_customerprofile p WHERE {PROFILE_FILTER}
        AND (SELECT count(*) FROM crm_activity r WHERE r.club_id = %(club)s AND r.profile_id = p.id
             AND r.type = 'round.completed' AND r.occurred_at >= %(rounds_since)s) >= 3
        AND {NO_RECENT_OPEN}""",
    "grouped IN … HAVING": f"""
        SELECT p.id FROM crm_customerprofile p WHERE {PROFILE_FILTER}
        AND p.id IN (SELECT r.profile_id FROM crm_activity r WHERE r.club_id = %(club)s
                     AND r.type = 'round.completed' AND r.occurred_at >= %(rounds_since)s
                     GROUP BY r.profile_id HAVING count(*) >= 3)
        AND {NO_RECENT_OPEN}""",
    "grouped JOIN … HAVING": f"""
        SELECT p.id FROM crm_customerprofile p JOIN crm_activity r ON r.profile_id = p.id
        WHERE {PROFILE_FILTER}
        AND r.club_id = %(club)s AND r.type = 'round.completed' AND r.occurred_at >= %(rounds_since)s
        AND {NO_RECENT_OPEN}
        GROUP BY p.id HAVING count(*) >= 3""",
    "EXISTS on the 3rd round (OFFSET 2)": f"""
        SELECT p.id FROM crm_customerprofile p WHERE {PROFILE_FILTER}
        AND EXISTS (SELECT 1 FROM crm_activity r WHERE r.club_id = %(club)s AND r.profile_id = p.id
                    AND r.type = 'round.completed' AND r.occurred_at >= %(rounds_since)s OFFSET 2 LIMIT 1)
        AND {NO_RECENT_OPEN}""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--club", default="bench-large")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per row; the median is reported (default 3).")
    parser.add_argument("--json", help="Write the figures to this file.")
    options = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("benchmarks/segments.py measures PostgreSQL; set DATABASE_URL.")
    club = Club.objects.filter(slug=options.club).first()
    if club is None:
        sys.exit(f"No club '{options.club}' here: build it first with `python -m benchmarks.dataset`.")
    repeat = max(1, options.repeat)

    now = timezone.now()
    compiled = set(rule_queryset(club=club, rule=RULE, now=now).values_list("pk", flat=True))
    compiler = _compiler_bounds(club, now)
    rows = []
    for label, sql in HAND_WRITTEN.items():  # warm-up, and the same set
        ids = _select(sql, compiler)[0]
        if ids != compiled:
            sys.exit(f"'{label}' found {len(ids):,} profiles; the compiled rule {len(compiled):,}.")

    segment = Segment.objects.create(club=club, name=f"benchmark {now:%H%M%S}", rule=RULE)
    try:
        # Interleaved, one run of every row per round, so a busy moment on the machine slows
        # one run of each rather than every run of one row.
        hand = {label: [] for label in HAND_WRITTEN}
        full, steady, incremental, preview = [], [], [], []
        for _ in range(repeat):
            for label, sql in HAND_WRITTEN.items():
                hand[label].append(_select(sql, compiler)[1])
            _empty(club, segment)
            started = time.perf_counter()
            result = segment_refresh(club=club, segment=segment, now=now)
            full.append((time.perf_counter() - started, result))
            if _members(club, segment) != compiled:
                sys.exit(
                    f"The full refresh left {result.member_count:,} members; the compiled rule has {len(compiled):,}."
                )
            started = time.perf_counter()
            result = segment_refresh(club=club, segment=segment, now=now)
            steady.append((time.perf_counter() - started, result))
            started = time.perf_counter()
            shown = segment_preview(club=club, rule=RULE, now=now)
            preview.append((time.perf_counter() - started, shown))
            if shown.count != len(compiled):
                sys.exit(f"The builder's preview counted {shown.count:,}; the compiled rule has {len(compiled):,}.")
        rows.extend(_row(f"hand-written: {label}", runs, profiles=len(compiled)) for label, runs in hand.items())
        fastest = min(row["seconds"] for row in rows)
        for _ in range(repeat):
            touched = _play_rounds(club, now, count=1_000)
            started = time.perf_counter()
            result = segment_refresh(club=club, segment=segment, now=now, profile_ids=touched)
            incremental.append((time.perf_counter() - started, result))
        expected = set(rule_queryset(club=club, rule=RULE, now=now).values_list("pk", flat=True))
        if _members(club, segment) != expected:
            sys.exit("After the incremental refreshes the members differ from the compiled rule's set.")
        for label, runs in (
            ("segment refresh, full (empty → all newcomers)", full),
            ("segment refresh, nothing changed", steady),
            ("incremental, 1,000 profiles with new rounds", incremental),
        ):
            last = runs[-1][1]
            rows.append(
                _row(
                    label,
                    [seconds for seconds, _ in runs],
                    profiles=last.member_count,
                    entered=last.entered,
                    exited=last.exited,
                )
            )
        rows.append(
            _row("builder preview: count + 10 sample", [seconds for seconds, _ in preview], profiles=len(compiled))
        )
    finally:
        _empty(club, segment)
        segment.delete()
        Activity.objects.for_club(club).filter(summary=BENCHMARK_ROUND).delete()
    for row in rows:
        row["vs_fastest_hand_written"] = row["seconds"] / fastest
    by_label = {row["row"]: row for row in rows}
    full_row = by_label["segment refresh, full (empty → all newcomers)"]
    met = {
        "full_refresh_seconds": full_row["seconds"] <= TARGETS["full_refresh_seconds"],
        "vs_hand_written": full_row["vs_fastest_hand_written"] <= TARGETS["vs_hand_written"],
        "incremental_seconds": by_label["incremental, 1,000 profiles with new rounds"]["seconds"]
        <= TARGETS["incremental_seconds"],
    }
    figures = {
        "club": club.slug,
        "profiles_matching": len(compiled),
        "repeat": repeat,
        "rows": rows,
        "targets": TARGETS,
        "targets_met": met,
    }
    print()
    print(f"Segment of {len(compiled):,} profiles on club {club.slug} (5 conditions, 2 on activities)")
    print(f"Median of {repeat} run(s) per row")
    print(f"{'query':<52} {'seconds':>8} {'min':>6} {'× fastest hand-written':>24}")
    print("-" * 93)
    for row in rows:
        ratio = row["vs_fastest_hand_written"]
        print(f"{row['row']:<52} {row['seconds']:>8.2f} {row['min_seconds']:>6.2f} {ratio:>24.2f}")
    print()
    print(
        f"Targets: full refresh ≤ {TARGETS['full_refresh_seconds']} s {_mark(met['full_refresh_seconds'])}, "
        f"≤ {TARGETS['vs_hand_written']}× fastest hand-written {_mark(met['vs_hand_written'])}, "
        f"incremental ≤ {TARGETS['incremental_seconds']} s {_mark(met['incremental_seconds'])}"
    )
    if options.json:
        Path(options.json).write_text(json.dumps(figures, indent=2))
        print(f"\nFigures written to {options.json}")


def _row(label: str, runs: list[float], **extra) -> dict:
    return {
        "row": label,
        "seconds": statistics.median(runs),
        "min_seconds": min(runs),
        "runs": runs,
        **extra,
    }


def _mark(met: bool) -> str:
    return "met" if met else "NOT met"


def _members(club, segment) -> set[int]:
    return set(SegmentMember.objects.for_club(club).filter(segment=segment).values_list("profile_id", flat=True))


def _empty(club, segment) -> None:
    SegmentMember.objects.for_club(club).filter(segment=segment).delete()
    SegmentChange.objects.for_club(club).filter(segment=segment).delete()


BENCHMARK_ROUND = "Benchmark round (deleted after the run)"


def _play_rounds(club, now, *, count: int) -> list[int]:
    """Three new rounds today for `count` random candidates of the segment's profile conditions."""
    candidates = list(
        CustomerProfile.objects.for_club(club)
        .filter(membership_status="active", membership_tier__in=TIERS, email_opt_in=True, merged_into__isnull=True)
        .order_by("?")
        .values_list("pk", flat=True)[:count]
    )
    Activity.objects.bulk_create(
        Activity(
            club=club, profile_id=pk, occurred_at=now, source="teetime", type="round.completed", summary=BENCHMARK_ROUND
        )
        for pk in candidates
        for _ in range(3)
    )
    return candidates


def _compiler_bounds(club, now) -> dict:
    """The same window starts the compiler uses: midnight in the club's timezone, N days back."""
    import zoneinfo
    from datetime import datetime, timedelta
    from datetime import time as clock

    zone = zoneinfo.ZoneInfo(club.timezone)
    today = now.astimezone(zone).date()
    return {
        "club": club.pk,
        "tiers": TIERS,
        "rounds_since": datetime.combine(today - timedelta(days=90), clock.min, tzinfo=zone),
        "opened_since": datetime.combine(today - timedelta(days=60), clock.min, tzinfo=zone),
    }


def _select(sql: str, params: dict) -> tuple[set[int], float]:
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(sql, params)
        ids = {row[0] for row in cursor.fetchall()}
        return ids, time.perf_counter() - started


if __name__ == "__main__":
    main()
