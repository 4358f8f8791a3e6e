"""Celery tasks of marketing: they take ids, call one service, and say their time limits.

Routes are in settings (CELERY_TASK_ROUTES): segment work on `segments`, segment syncs on
`messaging`, the send ledger's dispatches on `sends`. The ticks (beat jobs, config/schedules.py)
follow the pattern in crm/kernel/tasks.py: the item tasks re-check that their segment is still
due, or claim their sends skip-locked, so a tick that ran twice costs a query, not a second
refresh, sync or message.
"""

from celery import shared_task

from crm.kernel.tasks import RETRY_ON_DATABASE_ERRORS, TICK_TIME_LIMITS, fan_out
from crm.models import Club
from marketing.models import Segment, SegmentKind
from marketing.services.messaging_sync import SyncResult, segment_sync, segment_sync_when_due, segments_due_for_sync
from marketing.services.segments import (
    segment_refresh,
    segment_refresh_when_due,
    segments_due_for_refresh,
    segments_refresh_dependents,
    segments_refresh_for_profiles,
)
from marketing.services.sends import (
    SEND_DISPATCH_STALE_AFTER,
    SendSource,
    send_sources_due_for_dispatch,
    sends_dispatch_leased,
)

# A full refresh is one set-based statement per segment (under a second at 1M profiles, see
# benchmarks/segments.py); the limits leave room for a slow day, not for a runaway.
SEGMENT_TIME_LIMITS = {"soft_time_limit": 300, "time_limit": 360}
# Below MESSAGING_SYNC_STALE_SECONDS (600): a task still inside its limits never looks dead to
# the tick, so nobody takes over a live sync; a soft limit records the sync failed (it resumes).
MESSAGING_TIME_LIMITS = {"soft_time_limit": 480, "time_limit": 540}
# Segments one tick enqueues (each tick runs every minute); the rest wait, oldest first.
SEGMENTS_TICK_LIMIT = 500
MESSAGING_SYNC_TICK_LIMIT = 500
# Messaging calls (of MESSAGING_SYNC_BATCH contacts) per sync task before it re-enqueues itself:
# a club's first sync of a big segment doesn't hold a worker for its whole length.
MESSAGING_SYNC_BATCHES_PER_TASK = 20
# A dispatch holds its claims for MESSAGING_SEND_CLAIM_SECONDS (900): a task killed at its hard
# limit leaves claims that expire after it, so no live dispatcher's rows are taken over. A batch
# is one Messaging call (under a second; about 110 s at worst, with every retry of a slow
# Messaging), so a task of SENDS_BATCHES_PER_TASK batches fits its soft limit on a bad day; one
# stopped by the soft limit leaves its last batch claimed, sent again under the same keys later.
# The hard limit is when the source's dispatch lease goes stale: a task past it is dead.
SENDS_TIME_LIMITS = {"soft_time_limit": 480, "time_limit": int(SEND_DISPATCH_STALE_AFTER.total_seconds())}
SENDS_BATCHES_PER_TASK = 5
# Sources one tick enqueues (it runs every minute); the rest wait, oldest due first.
SENDS_TICK_LIMIT = 500


@shared_task(**SEGMENT_TIME_LIMITS, **RETRY_ON_DATABASE_ERRORS)
def refresh_segments_for_profiles(club_id: int, profile_ids: list[int]) -> int:
    """After processing changed these people: bring every rule-based segment up to date for them."""
    club = Club.objects.filter(pk=club_id).first()
    return segments_refresh_for_profiles(club=club, profile_ids=profile_ids) if club else 0


@shared_task(**SEGMENT_TIME_LIMITS, **RETRY_ON_DATABASE_ERRORS)
def refresh_segment(club_id: int, segment_id: int) -> int | None:
    """A full refresh of one segment after its rule was saved, then of the segments built on it;
    its member count."""
    segment = Segment.objects.unscoped_across_clubs().filter(pk=segment_id, club_id=club_id).select_related("club")
    segment = segment.first()
    if segment is None or segment.kind != SegmentKind.DYNAMIC:
        return None
    member_count = segment_refresh(club=segment.club, segment=segment).member_count
    segments_refresh_dependents(club=segment.club, segment=segment)
    return member_count


@shared_task(**TICK_TIME_LIMITS)
def segments_refresh_tick() -> int:
    """Beat tick: enqueue a full refresh of each rule-based segment that is due, oldest first (at
    most SEGMENTS_TICK_LIMIT); returns how many. Race: see `segment_refresh_when_due`."""
    return fan_out(refresh_due_segment, segments_due_for_refresh().values_list("club_id", "pk")[:SEGMENTS_TICK_LIMIT])


@shared_task(**SEGMENT_TIME_LIMITS, **RETRY_ON_DATABASE_ERRORS)
def refresh_due_segment(club_id: int, segment_id: int) -> int:
    """The tick's item: a full refresh of one due segment (and of the due segments it is built
    on, first); how many segments were refreshed, 0 if it was no longer due."""
    club = Club.objects.filter(pk=club_id).first()
    return segment_refresh_when_due(club=club, segment_id=segment_id) if club else 0


@shared_task(**TICK_TIME_LIMITS)
def messaging_sync_tick() -> int:
    """Beat tick: enqueue a sync of each flagged segment whose sync is due (see
    `segments_due_for_sync`), oldest first; returns how many."""
    due = segments_due_for_sync().values_list("club_id", "pk")[:MESSAGING_SYNC_TICK_LIMIT]
    return fan_out(sync_due_segment_to_messaging, due)


@shared_task(**MESSAGING_TIME_LIMITS)
def sync_due_segment_to_messaging(club_id: int, segment_id: int) -> str:
    """The tick's item: MESSAGING_SYNC_BATCHES_PER_TASK calls' worth of one due segment's sync,
    re-enqueued while more remains; returns the sync status. Two copies of it (a tick that ran
    twice) can't both push: the second finds the sync leased or no longer due."""
    club = Club.objects.filter(pk=club_id).first()
    result = (
        segment_sync_when_due(club=club, segment_id=segment_id, max_batches=MESSAGING_SYNC_BATCHES_PER_TASK)
        if club
        else None
    )
    return _continue_if_more(sync_due_segment_to_messaging, club_id, segment_id, result)


@shared_task(**MESSAGING_TIME_LIMITS)
def sync_segment_to_messaging(club_id: int, segment_id: int) -> str:
    """Sync one segment now (e.g. right after a marketer flags it), in bounded steps like the
    tick's; returns the sync status."""
    club = Club.objects.filter(pk=club_id).first()
    flagged = Segment.objects.for_club(club).filter(pk=segment_id, sync_to_messaging=True) if club else None
    segment = flagged.first() if flagged is not None else None
    if segment is None:
        return "not flagged for sync"
    result = segment_sync(club=club, segment=segment, max_batches=MESSAGING_SYNC_BATCHES_PER_TASK)
    return _continue_if_more(sync_segment_to_messaging, club_id, segment_id, result)


def _continue_if_more(task, club_id: int, segment_id: int, result: SyncResult | None) -> str:
    if result is None:
        return "not due"
    if result.more_to_do:
        # The lease was released with the status still running: this continuation claims it at
        # once; if the message is lost, the next tick finds the free running sync due.
        task.delay(club_id, segment_id)
    return result.status


@shared_task(**TICK_TIME_LIMITS)
def sends_dispatch_tick() -> int:
    """Beat tick: enqueue a dispatch of each source with sends due (see
    `send_sources_due_for_dispatch`), oldest due first (at most SENDS_TICK_LIMIT); returns how many."""
    due = send_sources_due_for_dispatch()[:SENDS_TICK_LIMIT]
    return fan_out(dispatch_due_sends, ((row["club_id"], row["source_kind"], row["source_id"]) for row in due))


@shared_task(**SENDS_TIME_LIMITS, **RETRY_ON_DATABASE_ERRORS)
def dispatch_due_sends(club_id: int, source_kind: str, source_id: int, lease_token: str = "") -> int:
    """The tick's item: SENDS_BATCHES_PER_TASK batches of one source's due sends, re-enqueued with
    the source's dispatch lease while more are due; returns how many were sent. One chain per
    source: a copy started while a chain holds the lease (a tick that ran twice, or ran between
    the chain's tasks) sends nothing. A Messaging outage ends it without a re-enqueue: the rows are
    due again after a backoff, and the first tick after that tries again."""
    club = Club.objects.filter(pk=club_id).first()
    if club is None:
        return 0
    source = SendSource(source_kind, source_id)
    result = sends_dispatch_leased(
        club=club, source=source, lease_token=lease_token, max_batches=SENDS_BATCHES_PER_TASK
    )
    if result is None:
        return 0
    if result.lease_token:
        dispatch_due_sends.delay(club_id, source_kind, source_id, result.lease_token)
    return result.sent
