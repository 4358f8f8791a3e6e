"""Apply stored events in batches: resolve people, update profiles, write the timeline.

One transaction per batch: lock the events (SKIP LOCKED, so two workers never take the same
event), resolve every person they mention in a handful of queries, lock those profiles in id
order, apply the handlers in `occurred_at` order, then write profiles, activities and event
statuses in bulk. An event is applied at most once because its status changes in the same
transaction as its effects. A batch that fails for a reason other than a transient database
error is retried event by event, so one bad event is marked failed without holding up the rest.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from crm.errors import CrmError
from crm.events import apply
from crm.events.catalog import CATALOG_BY_KEY, EventType
from crm.events.validation import data_validate
from crm.identity.identifiers import phone_to_e164
from crm.models import Activity, Club, CustomerProfile, InboundEvent, InboundEventStatus, Tournament
from crm.services.merges import live_profile_id
from crm.services.resolution import PersonRef, profiles_resolve
from crm.services.survivorship import ProfileDraft
from crm.signals import profiles_changed_after_commit

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
PENDING_STATUSES = (InboundEventStatus.RECEIVED, InboundEventStatus.FAILED)


@dataclass
class ProcessSummary:
    processed: int = 0
    rejected: int = 0
    failed: int = 0
    skipped: int = 0
    profiles_touched: set[int] = field(default_factory=set)

    def add(self, other: "ProcessSummary") -> None:
        self.processed += other.processed
        self.rejected += other.rejected
        self.failed += other.failed
        self.skipped += other.skipped
        self.profiles_touched |= other.profiles_touched


@dataclass
class PendingEvent:
    row: InboundEvent
    event_type: EventType
    data: dict
    phone: str | None
    refs: list[PersonRef]
    warnings: list[str] = field(default_factory=list)


def events_process(*, event_ids: list[int]) -> ProcessSummary:
    """Process the given stored events (any clubs). Safe to call twice: done events are skipped."""
    summary = ProcessSummary()
    clubs = (
        InboundEvent.objects.unscoped_across_clubs()  # a task's ids may span clubs; each club runs alone
        .filter(pk__in=event_ids)
        .values_list("club_id", flat=True)
        .distinct()
    )
    for club in Club.objects.filter(pk__in=list(clubs)):
        summary.add(events_process_for_club(club=club, event_ids=event_ids))
    return summary


def events_process_for_club(*, club, event_ids: list[int]) -> ProcessSummary:
    try:
        with transaction.atomic():
            summary = _process_batch(club, event_ids)
            profiles_changed_after_commit(club, summary.profiles_touched)
            return summary
    except (OperationalError, SoftTimeLimitExceeded):
        # A deadlock or lost connection is transient: the task retries the whole batch. Out of
        # time: the events stay pending for the tick, rather than one being marked failed for it.
        raise
    except Exception:
        logger.exception("Batch of %d events failed for club %s; retrying one by one", len(event_ids), club.pk)
    summary = ProcessSummary()
    for event_id in event_ids:
        try:
            with transaction.atomic():
                single = _process_batch(club, [event_id])
                profiles_changed_after_commit(club, single.profiles_touched)
                summary.add(single)
        except (OperationalError, SoftTimeLimitExceeded):
            raise
        except Exception as error:  # a bug or data the handlers can't take: park the event, go on
            logger.exception("Event %s failed", event_id)
            _mark_failed(club, event_id, error)
            summary.failed += 1
    return summary


def events_record_out_of_time(*, event_ids: list[int]) -> int:
    """Record that processing these events ran out of time, as a failure with backoff (and, after
    MAX_ATTEMPTS, parked as dead): an event too slow to finish would otherwise be handed back by
    every tick and take a worker each time, forever. Returns how many were recorded."""
    rows = InboundEvent.objects.unscoped_across_clubs().filter(pk__in=event_ids, status__in=PENDING_STATUSES)
    recorded = 0
    for row in rows.select_related("club").only("pk", "club"):  # one at most: the task split the batch
        _mark_failed(row.club, row.pk, TimeoutError("Processing took longer than its time limit."))
        recorded += 1
    return recorded


def events_due(*, club=None, now=None, received_before=None):
    """Ids of stored events still waiting, oldest first: received and not yet processed (an enqueue
    that was lost), or failed with their retry time come. `received_before` leaves out events so
    new that their own processing task is probably still on its way (the tick's grace)."""
    now = now or timezone.now()
    queryset = InboundEvent.objects.for_club(club) if club else InboundEvent.objects.unscoped_across_clubs()
    due = queryset.filter(status__in=PENDING_STATUSES).exclude(next_attempt_at__gt=now)
    if received_before is not None:
        due = due.exclude(status=InboundEventStatus.RECEIVED, received_at__gte=received_before)
    return due.order_by("received_at", "pk").values_list("pk", flat=True)


def events_process_pending(*, club=None, limit: int = 5000, batch_size: int = 1000) -> ProcessSummary:
    """Process events still waiting (see `events_due`) in batches, here and now: for a command that
    must finish them before it goes on (the demo seed). Scheduled work fans out instead
    (`crm.tasks.pending_events_tick`)."""
    ids = list(events_due(club=club)[:limit])
    summary = ProcessSummary()
    for start in range(0, len(ids), batch_size):
        summary.add(events_process(event_ids=ids[start : start + batch_size]))
    return summary


# --- One batch ----------------------------------------------------------------------------


def _process_batch(club, event_ids: list[int]) -> ProcessSummary:
    summary = ProcessSummary()
    now = timezone.now()
    rows = list(
        InboundEvent.objects.for_club(club)
        .filter(pk__in=event_ids, status__in=PENDING_STATUSES)
        .select_for_update(skip_locked=True)
        .order_by("occurred_at", "pk")
    )
    summary.skipped = len(set(event_ids)) - len(rows)
    if not rows:
        return summary

    pending, rejected = [], []
    for row in rows:
        event_type = CATALOG_BY_KEY.get((row.source, row.type))
        data, errors = (
            data_validate(event_type, row.data)
            if event_type
            else ({}, [{"path": "type", "message": "not in the catalog"}])
        )
        if errors:
            row.status, row.errors = InboundEventStatus.REJECTED, errors
            rejected.append(row)
            continue
        pending.append(_pending(club, row, event_type, data))

    refs = [ref for item in pending for ref in item.refs]
    profiles_resolve(club=club, refs=refs)
    profiles = profiles_lock_for_refs(club, refs)
    profile_ids = sorted(profiles)
    drafts = {pk: ProfileDraft(profile) for pk, profile in profiles.items()}
    tournaments = _tournaments_for(club, pending)

    activities = []
    for item in pending:
        activities.extend(_apply_one(club, item, drafts, tournaments))

    profiles_save_drafts(club, drafts)
    _save_tournaments(tournaments)
    Activity.objects.bulk_create(activities, batch_size=1000, ignore_conflicts=True)
    done_ids = [item.row.pk for item in pending]
    InboundEvent.objects.for_club(club).filter(pk__in=done_ids).update(
        status=InboundEventStatus.PROCESSED,
        processed_at=now,
        errors=[],
        next_attempt_at=None,
        attempts=F("attempts") + 1,
    )
    with_warnings = [item for item in pending if item.warnings or any(ref.warnings for ref in item.refs)]
    for item in with_warnings:
        item.row.warnings = item.warnings + [warning for ref in item.refs for warning in ref.warnings]
    InboundEvent.objects.for_club(club).bulk_update([item.row for item in with_warnings], ["warnings"])
    for row in rejected:
        row.processed_at = now
    InboundEvent.objects.for_club(club).bulk_update(rejected, ["status", "errors", "processed_at"])

    summary.processed = len(pending)
    summary.rejected = len(rejected)
    summary.profiles_touched = set(profile_ids)
    return summary


def profiles_lock_for_refs(club, refs: list[PersonRef]) -> dict[int, CustomerProfile]:
    """Lock the people this batch changes, in id order, and return them.

    The lock keeps a concurrent batch touching the same person waiting here instead of both
    computing rounds_played + 1 from the same old value. A profile another worker merged away
    between resolution and this lock is followed to its survivor, and the lock taken again.
    """
    while True:
        profile_ids = sorted({ref.profile_id for ref in refs if ref.profile_id})
        profiles = {
            profile.pk: profile
            for profile in CustomerProfile.objects.for_club(club)
            .filter(pk__in=profile_ids)
            .select_for_update()
            .order_by("pk")
        }
        moved = {pk: profile.merged_into_id for pk, profile in profiles.items() if profile.merged_into_id}
        if not moved:
            return profiles
        for ref in refs:
            if ref.profile_id in moved:
                ref.profile_id = live_profile_id(club, ref.profile_id)


def _pending(club, row: InboundEvent, event_type: EventType, data: dict) -> PendingEvent:
    warnings = []
    phone = None
    if data.get("phone"):
        try:
            phone = phone_to_e164(data["phone"], region=club.default_phone_region)
        except CrmError as error:
            warnings.append(f"data.phone dropped: {error.message}")
    refs = []
    if event_type.name == "tournament.results_published":
        for index, result in enumerate(data.get("results") or []):
            player_id = result.get("player_id") if isinstance(result, dict) else None
            if not isinstance(player_id, str) or not player_id.strip():
                warnings.append(f"data.results[{index}] has no player_id; skipped")
                continue
            refs.append(
                PersonRef(keys=[("teetime_player_id", player_id.strip())], seen_at=row.occurred_at, source=row.source)
            )
    elif event_type.is_about_a_person:
        refs.append(
            PersonRef(
                keys=_person_keys(row.source, data, phone),
                seen_at=row.occurred_at,
                source=row.source,
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                date_of_birth=data.get("date_of_birth"),
                postcode=(data.get("address") or {}).get("postcode", ""),
            )
        )
    return PendingEvent(row, event_type, data, phone, refs, warnings)


def _person_keys(source: str, data: dict, phone: str | None) -> list[tuple[str, str]]:
    """The person's keys, the sending system's own id first."""
    own = {"scl": "member_id", "teetime": "player_id", "messaging": "contact_id"}[source]
    kinds = {
        "member_id": "scl_member_id",
        "player_id": "teetime_player_id",
        "contact_id": "messaging_contact_id",
        "handicap_id": "handicap_id",
    }
    keys = [(kinds[own], data[own])]
    for name in ("member_id", "player_id", "contact_id", "handicap_id"):
        if name != own and data.get(name):
            keys.append((kinds[name], data[name]))
    if data.get("email"):
        keys.append(("email", data["email"]))
    if phone:
        keys.append(("phone", phone))
    return keys


def _tournaments_for(club, pending: list[PendingEvent]) -> dict[str, Tournament]:
    external_ids = {item.data["tournament_id"] for item in pending if "tournament_id" in item.data}
    if not external_ids:
        return {}
    rows = Tournament.objects.for_club(club).filter(external_id__in=external_ids).select_for_update()
    return {row.external_id: row for row in rows}


def _apply_one(club, item: PendingEvent, drafts, tournaments) -> list[Activity]:
    row, name = item.row, item.event_type.name
    applying = apply.Applying(
        club=club,
        row=row,
        data=item.data,
        at=row.occurred_at,
        source=row.source,
        draft=None,
        phone=item.phone,
        tournaments=tournaments,
        warnings=item.warnings,
    )
    if name in apply.CLUB_HANDLERS:
        tournament = apply.CLUB_HANDLERS[name](applying)
        return [
            _activity(
                club,
                row,
                ref.profile_id,
                apply.result_summary(tournament, item.data["tournament_id"], result),
                None,
                result,
            )
            for ref, result in zip(item.refs, _placed_results(item.data), strict=False)
            if ref.profile_id
        ]
    ref = item.refs[0]
    applying.draft = drafts[ref.profile_id]
    outcome = apply.PERSON_HANDLERS[name](applying)
    summary, amount = outcome if isinstance(outcome, tuple) else (outcome, None)
    return [_activity(club, row, ref.profile_id, summary, amount, row.data)]


def _placed_results(data: dict) -> list[dict]:
    return [
        result
        for result in data.get("results") or []
        if isinstance(result, dict) and isinstance(result.get("player_id"), str) and result["player_id"].strip()
    ]


def _activity(club, row: InboundEvent, profile_id: int, summary: str, amount, properties) -> Activity:
    return Activity(
        club=club,
        profile_id=profile_id,
        occurred_at=row.occurred_at,
        source=row.source,
        type=row.type,
        summary=summary[:300],
        properties=properties if isinstance(properties, dict) else {},
        amount=amount,
        inbound_event_id=row.pk,
    )


def profiles_save_drafts(club, drafts: dict[int, ProfileDraft]) -> None:
    """One UPDATE for every profile the batch changed. Writing a field a profile didn't change
    rewrites its current value, which is safe: the rows are locked and the drafts hold them whole."""
    changed_fields: set[str] = set()
    profiles = []
    for draft in drafts.values():
        changed = draft.finish()
        if changed:
            changed_fields.update(changed)
            profiles.append(draft.profile)
    if not profiles:
        return
    now = timezone.now()
    for profile in profiles:
        profile.updated_at = now
    CustomerProfile.objects.for_club(club).bulk_update(
        profiles, sorted(changed_fields) + ["updated_at"], batch_size=500
    )


def _save_tournaments(tournaments: dict[str, Tournament]) -> None:
    for tournament in tournaments.values():
        if getattr(tournament, "_changed", False):
            tournament.save()


def _mark_failed(club, event_id: int, error: Exception) -> None:
    """Record the failure and when to try again (exponential backoff, then give up)."""
    row = InboundEvent.objects.for_club(club).filter(pk=event_id).first()
    if row is None:
        return
    row.attempts += 1
    row.errors = [{"path": "", "message": f"{type(error).__name__}: {error}"[:1000]}]
    if row.attempts >= MAX_ATTEMPTS:
        row.status, row.next_attempt_at = InboundEventStatus.DEAD, None
    else:
        row.status = InboundEventStatus.FAILED
        row.next_attempt_at = timezone.now() + timedelta(seconds=30 * 2 ** (row.attempts - 1))
    try:
        row.save(update_fields=["attempts", "errors", "status", "next_attempt_at"])
    except DatabaseError:
        logger.exception("Could not record the failure of event %s", event_id)
