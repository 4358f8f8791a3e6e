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
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode, require_in_club
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


def segment_sync(*, club, segment: Segment, client: MessagingClient | None = None, now=None) -> SyncResult:
    """Bring the segment's Messaging list in line with its members.

    Side effects: creates the Messaging list on the first sync (stores its id), adds and removes
    contacts there, records acknowledged entries, and keeps `sync_status`, `sync_error` and
    `last_synced_at` up to date. A Messaging failure is not raised: it is recorded (status failed)
    and returned, and the next run resumes. Locking: see `_claim`.
    """
    require_in_club(club, segment)
    if not segment.sync_to_messaging:
        raise CrmError(CrmErrorCode.NOT_PERMITTED, "This segment is not set to sync to Messaging.")
    if not _claim(club, segment):
        return SyncResult(status=SyncStatus.RUNNING, already_running=True)
    progress = _Progress()
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
    except _ClaimLost:  # stalled past the stale limit and taken over: the new holder finishes
        logger.warning("segment %s sync was taken over by another worker; stopping", segment.pk)
        return SyncResult(SyncStatus.RUNNING, progress.added, progress.removed, progress.batches, already_running=True)
    except MessagingError as error:
        message = (
            f"{error} ({progress.added} added and {progress.removed} removed before it; "
            "the next sync resumes from there)"
        )
        _finish(club, segment, status=SyncStatus.FAILED, error=message)
        logger.warning("segment %s sync to Messaging failed: %s", segment.pk, message)
        return SyncResult(SyncStatus.FAILED, progress.added, progress.removed, progress.batches, error=message)
    except Exception as error:
        _finish(club, segment, status=SyncStatus.FAILED, error=f"Unexpected error: {error!r}")
        raise
    _finish(club, segment, status=SyncStatus.SYNCED, error="", synced_at=now)
    logger.info(
        "segment %s synced to Messaging list %s: +%s -%s in %s batches",
        segment.pk,
        list_id,
        progress.added,
        progress.removed,
        progress.batches,
    )
    return SyncResult(SyncStatus.SYNCED, progress.added, progress.removed, progress.batches)


def segments_sync_all(*, client: MessagingClient | None = None) -> dict[str, int]:
    """Sync every segment flagged for Messaging, club by club (the beat job). One segment's
    failure is recorded on it and logged; the others still run."""
    client = client or MessagingClient.from_settings()
    # Platform-wide sweep: each segment is then synced inside its own club.
    flagged = Segment.objects.unscoped_across_clubs().filter(sync_to_messaging=True).select_related("club")
    outcomes = {"synced": 0, "failed": 0, "already_running": 0}
    for segment in flagged.order_by("club_id", "pk"):
        try:
            result = segment_sync(club=segment.club, segment=segment, client=client)
        except Exception:
            logger.exception("segment %s (club %s): sync to Messaging crashed", segment.pk, segment.club_id)
            outcomes["failed"] += 1
            continue
        outcomes["already_running" if result.already_running else result.status] += 1
    return outcomes


# --- the steps --------------------------------------------------------------------------


def _claim(club, segment: Segment) -> bool:
    """Mark the sync running unless another worker is running it. One conditional UPDATE, so two
    workers can't both push the same batches; a heartbeat older than MESSAGING_SYNC_STALE_SECONDS
    means the holder died, and the sync may be taken over. (A row lock held across the HTTP calls
    would keep a transaction open for minutes, and on SQLite block every writer meanwhile.)"""
    stale_before = timezone.now() - timedelta(seconds=settings.MESSAGING_SYNC_STALE_SECONDS)
    free = (
        ~Q(sync_status=SyncStatus.RUNNING) | Q(sync_heartbeat_at__isnull=True) | Q(sync_heartbeat_at__lt=stale_before)
    )
    token = timezone.now()  # the heartbeat doubles as the claim: each later write checks it is still ours
    claimed = (
        Segment.objects.for_club(club)
        .filter(free, pk=segment.pk)
        .update(sync_status=SyncStatus.RUNNING, sync_heartbeat_at=token)
    )
    if claimed:
        segment.sync_status, segment.sync_heartbeat_at = SyncStatus.RUNNING, token
    return bool(claimed)


class _ClaimLost(Exception):
    """Another worker took this sync over (our heartbeat went stale); we must stop writing."""


def _finish(club, segment: Segment, *, status: str, error: str, synced_at=None) -> None:
    fields = {"sync_status": status, "sync_error": error, "sync_heartbeat_at": None}
    if synced_at is not None:
        fields["last_synced_at"] = synced_at
    Segment.objects.for_club(club).filter(pk=segment.pk, sync_heartbeat_at=segment.sync_heartbeat_at).update(**fields)
    for name, value in fields.items():
        setattr(segment, name, value)


@dataclass
class _Progress:
    added: int = 0
    removed: int = 0
    batches: int = 0


def _push_difference(club, segment, list_id, client, now, progress: _Progress) -> None:
    batch_size = settings.MESSAGING_SYNC_BATCH
    for profile_ids in _removal_batches(club, segment, list_id, client, batch_size):
        progress.removed, progress.batches = progress.removed + len(profile_ids), progress.batches + 1
    for profile_ids in _addition_batches(club, segment, list_id, client, batch_size, now):
        progress.added, progress.batches = progress.added + len(profile_ids), progress.batches + 1


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


def _addition_batches(club, segment, list_id, client, batch_size, now):
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
            _beat(club, segment)
        yield profile_ids


def _removal_batches(club, segment, list_id, client, batch_size):
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
            _beat(club, segment)
        yield profile_ids


def _beat(club, segment) -> None:
    """Renew the claim; if another worker has taken it over, stop (the batch's entries roll back
    with the caller's transaction, and the new holder replays that batch under the same key)."""
    now = timezone.now()
    held = (
        Segment.objects.for_club(club)
        .filter(pk=segment.pk, sync_heartbeat_at=segment.sync_heartbeat_at)
        .update(sync_heartbeat_at=now)
    )
    if not held:
        raise _ClaimLost
    segment.sync_heartbeat_at = now


def _key_prefix(segment: Segment, action: str) -> str:
    return f"fairway-segment-{segment.pk}-{action}"
