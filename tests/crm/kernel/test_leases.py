"""The lease helper on a real row with a status/heartbeat pair (a segment's Messaging sync): one
holder at a time, a dead holder's lease taken over, and the old holder then writes nothing."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from crm.kernel.leases import LeaseLost, lease_claim, lease_free
from marketing.models import Segment, SyncStatus
from tests.concurrency import in_threads
from tests.factories import SegmentFactory

TEN_MINUTES = timedelta(minutes=10)


@pytest.fixture
def segment(club_a):
    return SegmentFactory(club=club_a, name="Gold", rule={"field": "tier", "op": "eq", "value": "Gold"})


def claim(segment, *, stale_after=TEN_MINUTES, now=None):
    return lease_claim(
        Segment.objects.for_club(segment.club).filter(pk=segment.pk),
        status_field="sync_status",
        heartbeat_field="sync_heartbeat_at",
        running=SyncStatus.RUNNING,
        stale_after=stale_after,
        now=now,
    )


def stored(segment) -> tuple[str, object]:
    return Segment.objects.for_club(segment.club).values_list("sync_status", "sync_heartbeat_at").get(pk=segment.pk)


def test_a_free_row_is_claimed_as_running_with_the_lease_token_as_its_heartbeat(segment):
    lease = claim(segment)

    assert lease is not None
    assert stored(segment) == (SyncStatus.RUNNING, lease.token)


def test_a_row_held_by_a_live_lease_cannot_be_claimed(segment):
    holder = claim(segment)

    assert claim(segment) is None
    assert stored(segment) == (SyncStatus.RUNNING, holder.token)


def test_renewing_moves_the_heartbeat_on_and_keeps_the_lease(segment):
    lease = claim(segment, now=timezone.now() - timedelta(minutes=5))
    first_token = lease.token

    lease.renew()

    assert lease.token > first_token and stored(segment) == (SyncStatus.RUNNING, lease.token)
    assert claim(segment) is None  # five minutes later, the renewed heartbeat is fresh again


def test_a_stale_lease_is_taken_over_and_its_old_holder_can_neither_renew_nor_release(segment):
    stalled = claim(segment, now=timezone.now() - timedelta(minutes=11))

    taker = claim(segment)

    assert taker is not None
    with pytest.raises(LeaseLost):
        stalled.renew()
    assert stalled.release(sync_status=SyncStatus.FAILED, sync_error="stalled") is False
    assert stored(segment) == (SyncStatus.RUNNING, taker.token)  # the new holder's row, untouched
    assert Segment.objects.for_club(segment.club).get(pk=segment.pk).sync_error == ""


def test_releasing_writes_the_outcome_and_clears_the_heartbeat(segment):
    lease = claim(segment)

    assert lease.release(sync_status=SyncStatus.SYNCED, sync_error="") is True

    assert stored(segment) == (SyncStatus.SYNCED, None)
    assert claim(segment) is not None  # free again


def test_a_release_may_keep_a_heartbeat_as_when_it_ended(segment):
    lease = claim(segment)
    failed_at = timezone.now()

    lease.release(sync_status=SyncStatus.FAILED, sync_heartbeat_at=failed_at)

    assert stored(segment) == (SyncStatus.FAILED, failed_at)
    assert claim(segment) is not None  # not running: free whatever its heartbeat says


def test_a_running_row_without_a_heartbeat_is_free_for_its_continuation(segment):
    lease = claim(segment)
    lease.release(sync_status=SyncStatus.RUNNING)  # released mid-way, for another task to continue

    continuation = claim(segment)

    assert continuation is not None and stored(segment) == (SyncStatus.RUNNING, continuation.token)


def test_lease_free_selects_exactly_the_rows_a_claim_would_take(club_a):
    now = timezone.now()
    states = {
        "never run": (SyncStatus.NEVER, None),
        "failed, keeping when": (SyncStatus.FAILED, now - timedelta(minutes=1)),
        "released for a continuation": (SyncStatus.RUNNING, None),
        "holder died": (SyncStatus.RUNNING, now - TEN_MINUTES - timedelta(seconds=1)),
        "live holder": (SyncStatus.RUNNING, now - timedelta(minutes=1)),
        "live holder, just at the limit": (SyncStatus.RUNNING, now - TEN_MINUTES),
    }
    rows = {
        name: SegmentFactory(club=club_a, name=name, sync_status=status, sync_heartbeat_at=heartbeat)
        for name, (status, heartbeat) in states.items()
    }
    free = lease_free(
        status_field="sync_status",
        heartbeat_field="sync_heartbeat_at",
        running=SyncStatus.RUNNING,
        stale_after=TEN_MINUTES,
        now=now,
    )

    selected = set(Segment.objects.for_club(club_a).filter(free).values_list("name", flat=True))
    claimed = {name for name, row in rows.items() if claim(row, now=now) is not None}

    assert selected == claimed == {"never run", "failed, keeping when", "released for a continuation", "holder died"}


def test_a_row_of_another_club_is_not_claimed_through_this_clubs_rows(segment, club_b):
    theirs = Segment.objects.for_club(club_b).filter(pk=segment.pk)

    lease = lease_claim(
        theirs,
        status_field="sync_status",
        heartbeat_field="sync_heartbeat_at",
        running=SyncStatus.RUNNING,
        stale_after=TEN_MINUTES,
    )

    assert lease is None and stored(segment) == (SyncStatus.NEVER, None)


# --- real concurrency (PostgreSQL: SQLite runs one writer at a time, so nothing races there) ---


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL; CI runs it there")
def test_workers_claiming_at_once_get_exactly_one_lease(segment):
    leases = in_threads(6, lambda: claim(segment))

    winners = [lease for lease in leases if lease is not None]
    assert len(winners) == 1 and stored(segment) == (SyncStatus.RUNNING, winners[0].token)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL; CI runs it there")
def test_a_stalled_worker_is_taken_over_by_another_and_stops_at_its_next_renewal(segment):
    stale_after = timedelta(milliseconds=300)
    holding, taken_over = threading.Event(), threading.Event()
    outcome = {}

    def stalled_worker():
        try:
            lease = claim(segment, stale_after=stale_after)
            holding.set()
            taken_over.wait(timeout=10)  # stalls past the stale limit while another worker takes over
            try:
                lease.renew()
                outcome["stalled"] = "renewed"
            except LeaseLost:
                outcome["stalled"] = "lost"
                outcome["released"] = lease.release(sync_status=SyncStatus.FAILED)
        finally:
            connection.close()

    def taking_worker():
        try:
            holding.wait(timeout=10)
            outcome["early"] = claim(segment, stale_after=stale_after)  # the holder is still alive
            time.sleep(0.5)
            outcome["taker"] = claim(segment, stale_after=stale_after)
            taken_over.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=stalled_worker), threading.Thread(target=taking_worker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert outcome["early"] is None and outcome["taker"] is not None
    assert outcome["stalled"] == "lost" and outcome["released"] is False
    assert stored(segment) == (SyncStatus.RUNNING, outcome["taker"].token)
