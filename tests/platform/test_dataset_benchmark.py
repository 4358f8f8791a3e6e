"""benchmarks.dataset builds a large club with COPY; here at toy scale, into the test database."""

import json
import subprocess
import sys

import pytest
from django.db import connection
from django.db.models import Count, F, Max

from crm.identity.matching import name_key
from crm.models import Activity, Club, CustomerProfile, ProfileIdentifier, ProfileTag
from tests.platform.processes import PROJECT_ROOT, child_environment, database_url_for_children

PROFILES, ACTIVITIES = 500, 5_000

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="benchmarks.dataset writes with PostgreSQL's COPY"
)


def run_benchmark(
    script: str, *args: str, tmp_path, database_url: str | None = None
) -> tuple[subprocess.CompletedProcess, dict]:
    """Run `benchmarks/<script>` (a file, or a package run with -m) as a user would; its result and
    the figures it wrote with --json."""
    output = tmp_path / f"{script}.json"
    command = [sys.executable, f"benchmarks/{script}"] if script.endswith(".py") else [sys.executable, "-m", script]
    result = subprocess.run(
        [*command, *args, "--json", str(output)],
        cwd=PROJECT_ROOT,
        # The test database: the subprocess commits, so the test (transaction=True) sees its rows.
        env=child_environment(DATABASE_URL=database_url or database_url_for_children()),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, (json.loads(output.read_text()) if output.exists() else {})


def run_dataset(*args: str, tmp_path, database_url: str | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    return run_benchmark("benchmarks.dataset", *args, tmp_path=tmp_path, database_url=database_url)


def build(*extra: str, tmp_path, profiles: int = PROFILES) -> tuple[subprocess.CompletedProcess, dict]:
    return run_dataset(
        "--profiles", str(profiles), "--activities", str(ACTIVITIES), "--club", "bench-test", *extra, tmp_path=tmp_path
    )


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_dataset_copies_a_consistent_club_and_prints_its_table(tmp_path):
    result, figures = build("--seed", "5", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    club = Club.objects.get(slug="bench-test")
    profiles = CustomerProfile.objects.for_club(club)
    activities = Activity.objects.for_club(club)
    assert profiles.count() == PROFILES
    assert activities.count() == ACTIVITIES
    # Every row points at a profile of this club (the FK alone would allow another club's).
    assert not activities.exclude(profile__club=club).exists()
    assert not ProfileIdentifier.objects.for_club(club).exclude(profile__club=club).exists()
    assert not ProfileTag.objects.for_club(club).exclude(profile__club=club).exists()
    assert ProfileTag.objects.for_club(club).exists()

    # name_key is filled, the way matching computes it.
    assert not profiles.filter(name_key="").exists()
    for first, last, key in profiles.values_list("first_name", "last_name", "name_key")[:100]:
        assert key == name_key(first, last)

    # Identifiers the resolver can find people by: one email each, system ids unique per person.
    identifiers = ProfileIdentifier.objects.for_club(club)
    assert identifiers.filter(kind="email").count() == PROFILES
    assert identifiers.filter(kind="scl_member_id").count() == profiles.exclude(member_number="").count() + (
        profiles.filter(membership_status="prospect").count()
    )
    assert {"phone", "teetime_player_id", "messaging_contact_id"} <= set(identifiers.values_list("kind", flat=True))

    # rounds_played and last_round_at agree with the timeline; activities come from the catalog.
    per_profile = activities.filter(type="round.completed").values("profile_id")
    rounds = {
        row["profile_id"]: (row["n"], row["last"])
        for row in per_profile.annotate(n=Count("pk"), last=Max("occurred_at"))
    }
    for pk, played, last_round_at in profiles.values_list("pk", "rounds_played", "last_round_at"):
        assert (played, last_round_at) == rounds.get(pk, (0, None))
    types = set(activities.values_list("type", flat=True).distinct())
    assert {"round.completed", "booking.created", "payment.received", "message.sent", "message.opened"} <= types
    assert not activities.filter(summary="").exists()
    assert activities.filter(amount__isnull=True).count() > ACTIVITIES / 2
    assert not profiles.exclude(lifecycle_stage="new").exists()
    assert not profiles.filter(created_at__gt=F("updated_at")).exists()

    assert "crm_customerprofile" in result.stdout and "crm_activity" in result.stdout
    assert "total" in result.stdout and "rows/s" in result.stdout
    by_table = {row["table"]: row for row in figures["tables"]}
    assert by_table["crm_customerprofile"]["rows"] == PROFILES
    assert by_table["crm_activity"]["rows"] == ACTIVITIES
    assert figures["club_id"] == club.pk and figures["total_seconds"] > 0


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_dataset_refuses_an_existing_club_and_replaces_it_on_request(tmp_path):
    first, _ = build(tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    old = Club.objects.get(slug="bench-test")

    again, _ = build(tmp_path=tmp_path)
    assert again.returncode != 0 and "--replace" in again.stderr

    # Enough people for two blocks, so two workers each COPY their share.
    replaced, figures = build("--replace", "--skip-fk-checks", "--workers", "2", tmp_path=tmp_path, profiles=2_500)
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    assert not Club.objects.filter(pk=old.pk).exists()
    assert not CustomerProfile.objects.filter(club_id=old.pk).exists()
    assert not Activity.objects.filter(club_id=old.pk).exists()
    club = Club.objects.get(slug="bench-test")
    assert "2 workers" in replaced.stdout
    assert CustomerProfile.objects.for_club(club).count() == 2_500
    assert set(CustomerProfile.objects.for_club(club).values_list("pk", flat=True)) == set(
        range(figures["first_profile_id"], figures["first_profile_id"] + 2_500)
    )
    assert Activity.objects.for_club(club).count() == ACTIVITIES
    assert not Activity.objects.for_club(club).exclude(profile__club=club).exists()
    assert figures["fk_checks"] == "verified in bulk after loading"
    assert "all to rows of this club" in replaced.stdout


def test_dataset_refuses_anything_but_postgresql(tmp_path):
    result, _ = run_dataset(
        "--profiles", "10", "--activities", "10", tmp_path=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}"
    )
    assert result.returncode != 0
    assert "PostgreSQL" in result.stderr
    assert not (tmp_path / "x.sqlite3").exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_api_benchmark_measures_every_row_on_a_built_club(tmp_path):
    built, _ = build("--seed", "5", tmp_path=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    result, figures = run_benchmark(
        "api.py", "--club", "bench-test", "--requests", "40", "--long-timeline", "15", tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["row"].split(":")[0]: row for row in figures["rows"]}
    assert {"baseline", "profile 360, REST", "profile 360, GraphQL", "search by full name", "search by email"} <= set(
        rows
    )
    assert all(row["requests"] >= 10 and 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] for row in rows.values())
    assert rows["baseline"]["p95_vs_baseline"] == 1.0
    assert "p95 ms" in result.stdout and "profile 360, GraphQL" in result.stdout
    assert figures["profiles"] == PROFILES and figures["activities"] == ACTIVITIES
    # The benchmark's key is revoked afterwards: it leaves no way in behind.
    from crm.models import ApiKey

    assert not ApiKey.objects.for_club(Club.objects.get(slug="bench-test")).filter(revoked_at__isnull=True).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_segments_benchmark_checks_every_form_finds_the_same_people(tmp_path):
    built, _ = build("--seed", "5", tmp_path=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    result, figures = run_benchmark("segments.py", "--club", "bench-test", "--repeat", "2", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]  # a form finding another set exits non-zero
    labels = [row["row"] for row in figures["rows"]]
    assert sum(label.startswith("hand-written") for label in labels) == 4
    assert "segment refresh, nothing changed" in labels
    assert min(row["vs_fastest_hand_written"] for row in figures["rows"]) == 1.0
    assert all(len(row["runs"]) == 2 and row["min_seconds"] <= row["seconds"] for row in figures["rows"])
    # The full refresh filled the segment with exactly the compiled rule's set (checked by the run).
    full = next(row for row in figures["rows"] if row["row"].startswith("segment refresh, full"))
    assert full["profiles"] == full["entered"] == figures["profiles_matching"]
    assert set(figures["targets_met"]) == set(figures["targets"])
    from marketing.models import Segment

    assert not Segment.objects.for_club(Club.objects.get(slug="bench-test")).exists()  # cleaned up
