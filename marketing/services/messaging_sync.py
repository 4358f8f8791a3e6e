"""Segment → Messaging list sync (SPEC 8, 13 outbound): push the difference, in batches, idempotently.

`MessagingListEntry` is what the Messaging list is known to hold: a row is written only after
Messaging acknowledged the add, deleted only after it acknowledged the removal. Each run pushes
the difference between the segment's members and those entries, smallest profile id first, so a
run that failed part-way leaves the acknowledged batches recorded and the next run starts where
it stopped: nobody is added twice, nobody is lost.

A batch's idempotency key is a hash of what the batch is (segment, list, action, each profile with
the id of the membership or entry row that put it there, and the contact details sent), so a batch
retried after a timeout — even by another process after a restart — carries the same key, and
Messaging replays its answer instead of applying it twice. The row ids make a person who left and
came back a new key rather than a replay of their first add.

What identifies a profile to Messaging: `external_id` = the profile's id (stable, never reused, and
what a removal names), plus the primary email and phone and the Messaging contact id when the CRM
knows them, so Messaging can join the list member to a contact it already has. Erased and
merged-away profiles are never pushed, and are removed if they had been.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode, require_in_club
from crm.kernel.leases import Lease, LeaseLost, lease_claim, lease_free
from marketing.messaging.client import MessagingClient, MessagingError, MessagingNotFound
from marketing.models import MessagingListEntry, Segment, SegmentMember, SyncStatus
from marketing.services.messaging_batches import (
    batches_by_profile,
    idempotency_key,
    messaging_contact,
    messaging_contact_id,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncResult:
    status: str  # a SyncStatus value
    added: int = 0
    removed: int = 0
    batches: int = 0
    error: str = ""
    already_running: bool = False  # another worker holds this segment's sync; nothing was done
    more_to_do: bool = False  # stopped at `max_batches` with work left: run it again to continue


def segment_sync(
    *, club, segment: Segment, client: MessagingClient | None = None, now=None, max_batches: int | None = None
) -> SyncResult:
    """Bring the segment's Messaging list in line with its members, or take `max_batches` calls'
    worth of steps towards it (`more_to_do` then says to run it again; the status stays running).

    Side effects: creates the Messaging list on the first sync (stores its id), adds and removes
    contacts there, records acknowledged entries, and keeps `sync_status`, `sync_error` and
    `last_synced_at` up to date. A Messaging failure is not raised: it is recorded (status failed)
    and returned, and the next run resumes. Locking: a lease on the segment (see `_claim`).
    """
    require_in_club(club, segment)
    if not segment.sync_to_messaging:
        raise CrmError(CrmErrorCode.NOT_PERMITTED, "This segment is not set to sync to Messaging.")
    lease = _claim(club, segment)
    if lease is None:
        return SyncResult(status=SyncStatus.RUNNING, already_running=True)
    progress = _Progress(lease=lease, max_batches=max_batches)
    try:
        client = client or MessagingClient.from_settings()
        now = now or timezone.now()
        # Read after the claim: the caller's copy may predate another worker creating the list.
        segment.messaging_list_id = (
            Segment.objects.for_club(club).values_list("messaging_list_id", flat=True).get(pk=segment.pk)
        )
        list_id = _list_existing(segment, client) or _list_create(
            club, segment, client, vanished_list_id=segment.messaging_list_id
        )
        try:
            _push_difference(club, segment, list_id, client, now, progress)
        except MessagingNotFound:  # deleted while this sync ran
            list_id = _list_create(club, segment, client, vanished_list_id=list_id)
            _push_difference(club, segment, list_id, client, now, progress)
    except LeaseLost:  # stalled past the stale limit and taken over: the new holder finishes
        logger.warning("segment %s sync was taken over by another worker; stopping", segment.pk)
        return SyncResult(SyncStatus.RUNNING, progress.added, progress.removed, progress.batches, already_running=True)
    except _BatchLimitReached:
        # Still running, with no heartbeat: free for the continuation (or, if that task is lost,
        # for the next tick) to claim at once rather than after the stale limit.
        _finish(segment, lease, status=SyncStatus.RUNNING, error="")
        return SyncResult(SyncStatus.RUNNING, progress.added, progress.removed, progress.batches, more_to_do=True)
    except MessagingError as error:
        message = (
            f"{error} ({progress.added} added and {progress.removed} removed before it; "
            "the next sync resumes from there)"
        )
        _finish(segment, lease, status=SyncStatus.FAILED, error=message, failed_at=timezone.now())
        logger.warning("segment %s sync to Messaging failed: %s", segment.pk, message)
        return SyncResult(SyncStatus.FAILED, progress.added, progress.removed, progress.batches, error=message)
    except Exception as error:
        message = f"Unexpected error: {error!r}"
        _finish(segment, lease, status=SyncStatus.FAILED, error=message, failed_at=timezone.now())
        raise
    _finish(segment, lease, status=SyncStatus.SYNCED, error="", synced_at=now)
    logger.info(
        "segment %s synced to Messaging list %s: +%s -%s in %s batches",
        segment.pk,
        list_id,
        progress.added,
        progress.removed,
        progress.batches,
    )
    return SyncResult(SyncStatus.SYNCED, progress.added, progress.removed, progress.batches)


def segments_due_for_sync(*, now=None):
    """Flagged segments whose sync is due, oldest first (platform-wide; the tick's selector).

    Due: never synced; synced more than MESSAGING_SYNC_MINUTES ago; failed more than that ago (a
    failed sync keeps its last heartbeat as when it failed, so a Messaging outage is retried on the
    sync's own cadence, not on every tick); or running with a lease that is free to claim (released
    for a continuation, or stale because its worker died), so a lost continuation is picked up.
    """
    now = now or timezone.now()
    interval_ago = now - timedelta(minutes=settings.MESSAGING_SYNC_MINUTES)
    due = lease_free(**_sync_lease(), now=now) & (
        Q(sync_status=SyncStatus.NEVER)
        | Q(sync_status=SyncStatus.SYNCED) & (Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=interval_ago))
        | Q(sync_status=SyncStatus.FAILED) & (Q(sync_heartbeat_at__isnull=True) | Q(sync_heartbeat_at__lt=interval_ago))
        | Q(sync_status=SyncStatus.RUNNING)  # free to claim, per lease_free
    )
    # Platform-wide: the tick fans out, and each segment is then synced inside its own club.
    flagged = Segment.objects.unscoped_across_clubs().filter(sync_to_messaging=True)
    return flagged.filter(due).order_by(F("last_synced_at").asc(nulls_first=True), "pk")


def segment_sync_when_due(*, club, segment_id: int, client: MessagingClient | None = None, max_batches=None):
    """`segment_sync` if the segment is still flagged and due, else None: a tick that ran twice, or
    ran again while this segment waited in the queue, enqueued it twice; the second finds it synced."""
    segment = segments_due_for_sync().filter(club=club, pk=segment_id).first()
    if segment is None:
        return None
    segment.club = club
    return segment_sync(club=club, segment=segment, client=client, max_batches=max_batches)


# --- the steps --------------------------------------------------------------------------


def _sync_lease() -> dict:
    """The segment sync's lease: its fields and stale limit, for `lease_claim` and `lease_free`."""
    return {
        "status_field": "sync_status",
        "heartbeat_field": "sync_heartbeat_at",
        "running": SyncStatus.RUNNING,
        "stale_after": timedelta(seconds=settings.MESSAGING_SYNC_STALE_SECONDS),
    }


def _claim(club, segment: Segment) -> Lease | None:
    """Lease the segment's sync unless another worker is running it, so two workers can't both push
    the same batches; a heartbeat older than MESSAGING_SYNC_STALE_SECONDS means the holder died,
    and the sync may be taken over (see crm/kernel/leases.py)."""
    lease = lease_claim(Segment.objects.for_club(club).filter(pk=segment.pk), **_sync_lease())
    if lease is not None:
        segment.sync_status, segment.sync_heartbeat_at = SyncStatus.RUNNING, lease.token
    return lease


class _BatchLimitReached(Exception):
    """This run made its `max_batches` calls; the rest is for the next run."""


def _finish(segment: Segment, lease: Lease, *, status: str, error: str, synced_at=None, failed_at=None) -> None:
    fields = {"sync_status": status, "sync_error": error, "sync_heartbeat_at": failed_at}
    if synced_at is not None:
        fields["last_synced_at"] = synced_at
    lease.release(**fields)
    for name, value in fields.items():
        setattr(segment, name, value)


@dataclass
class _Progress:
    lease: Lease
    max_batches: int | None = None
    added: int = 0
    removed: int = 0
    batches: int = 0

    def renew(self, segment) -> None:
        """After each acknowledged batch (inside the transaction recording it): renew the lease —
        if another worker took it over, stop, and the batch's entries roll back with the caller's
        transaction (the new holder replays that batch under the same key)."""
        self.lease.renew()
        segment.sync_heartbeat_at = self.lease.token

    def check_limit(self) -> None:
        if self.max_batches is not None and self.batches >= self.max_batches:
            raise _BatchLimitReached


def _push_difference(club, segment, list_id, client, now, progress: _Progress) -> None:
    batch_size = settings.MESSAGING_SYNC_BATCH
    for profile_ids in _removal_batches(club, segment, list_id, client, batch_size, progress):
        progress.removed, progress.batches = progress.removed + len(profile_ids), progress.batches + 1
        progress.check_limit()
    for profile_ids in _addition_batches(club, segment, list_id, client, batch_size, now, progress):
        progress.added, progress.batches = progress.added + len(profile_ids), progress.batches + 1
        progress.check_limit()


def _list_create(club, segment: Segment, client: MessagingClient, *, vanished_list_id: str = "") -> str:
    name = f"{club.name}: {segment.name}"
    # Same segment, name (and list it replaces) → same key: a creation whose answer was lost is
    # replayed, not repeated. The vanished list's id makes a replacement a new creation rather
    # than a replay of the list that disappeared.
    messaging_list = client.list_create(
        name=name,
        external_id=f"fairway-segment-{segment.pk}",
        idempotency_key=idempotency_key(_key_prefix(segment, "list"), [club.pk, segment.pk, name, vanished_list_id]),
    )
    with transaction.atomic():
        Segment.objects.for_club(club).filter(pk=segment.pk).update(messaging_list_id=messaging_list.id)
        # Together with the new id, or a crash in between would leave entries claiming people are
        # on a list that never had them.
        MessagingListEntry.objects.for_club(club).filter(segment=segment).delete()
    segment.messaging_list_id = messaging_list.id
    return messaging_list.id


def _list_existing(segment: Segment, client: MessagingClient) -> str:
    """The segment's list id if Messaging still has that list, else "" (one GET per sync, so a
    sync with nothing to push still notices). A list deleted in Messaging, or a local simulator
    restarted with empty memory, leaves entries that describe nothing: a new list is filled."""
    if not segment.messaging_list_id:
        return ""
    try:
        return client.list_get(list_id=segment.messaging_list_id).id
    except MessagingNotFound:
        logger.warning(
            "segment %s: Messaging list %s is gone; a new one is made", segment.pk, segment.messaging_list_id
        )
        return ""


def _wanted_members(club, segment: Segment):
    """Members the list should hold: never an erased or merged-away profile."""
    return SegmentMember.objects.for_club(club).filter(
        segment=segment, profile__is_erased=False, profile__merged_into__isnull=True
    )


def _addition_batches(club, segment, list_id, client, batch_size, now, progress: _Progress):
    """Push members not yet on the list, one batch per call; yields each acknowledged batch's ids."""
    already_listed = MessagingListEntry.objects.for_club(club).filter(segment=segment, profile=OuterRef("profile"))
    contact_id = messaging_contact_id(club)
    pending = (
        _wanted_members(club, segment)
        .filter(~Exists(already_listed))
        .values("id", "profile_id", "profile__primary_email", "profile__primary_phone", contact_id=Subquery(contact_id))
    )
    for rows in batches_by_profile(pending, batch_size):
        contacts = [messaging_contact(row) for row in rows]
        identity = [[row["profile_id"], row["id"]] for row in rows]
        client.list_add_contacts(
            list_id=list_id,
            contacts=contacts,
            idempotency_key=idempotency_key(_key_prefix(segment, "add"), [list_id, identity, contacts]),
        )
        profile_ids = [row["profile_id"] for row in rows]
        with transaction.atomic():
            # ignore_conflicts: a worker that took over a stale sync may have recorded some already.
            MessagingListEntry.objects.for_club(club).bulk_create(
                [MessagingListEntry(club=club, segment=segment, profile_id=pk, pushed_at=now) for pk in profile_ids],
                ignore_conflicts=True,
            )
            progress.renew(segment)
        yield profile_ids


def _removal_batches(club, segment, list_id, client, batch_size, progress: _Progress):
    """Remove list entries whose profile is no longer wanted; yields each acknowledged batch's ids."""
    still_wanted = _wanted_members(club, segment).filter(profile=OuterRef("profile"))
    leaving = (
        MessagingListEntry.objects.for_club(club)
        .filter(segment=segment)
        .filter(~Exists(still_wanted))
        .values("id", "profile_id")
    )
    for rows in batches_by_profile(leaving, batch_size):
        profile_ids = [row["profile_id"] for row in rows]
        client.list_remove_contacts(
            list_id=list_id,
            external_ids=[str(profile_id) for profile_id in profile_ids],
            idempotency_key=idempotency_key(
                _key_prefix(segment, "remove"), [list_id, [[row["profile_id"], row["id"]] for row in rows]]
            ),
        )
        with transaction.atomic():
            MessagingListEntry.objects.for_club(club).filter(segment=segment, profile_id__in=profile_ids).delete()
            progress.renew(segment)
        yield profile_ids


def _key_prefix(segment: Segment, action: str) -> str:
    return f"fairway-segment-{segment.pk}-{action}"
