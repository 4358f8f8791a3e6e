"""Store first: every event is written as an InboundEvent before anything acts on it (SPEC 13)."""

import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from crm.events.validation import InvalidEvent, ValidEvent, event_validate
from crm.models import InboundEvent, InboundEventStatus
from crm.tasks import process_inbound_events

MAX_BATCH = 1000


@dataclass
class StoreResult:
    id: str
    status: str  # accepted | duplicate | rejected
    errors: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        body = {"id": self.id, "status": self.status}
        if self.errors:
            body["errors"] = self.errors
        return body


@dataclass
class StoreOutcome:
    results: list[StoreResult]
    accepted_ids: list[int]  # InboundEvent pks waiting for processing

    def counts(self) -> dict[str, int]:
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for result in self.results:
            counts[result.status] += 1
        return counts


def events_store(*, club, raw_events: list, transport: str, enqueue: bool = True) -> StoreOutcome:
    """Validate and store a batch for one club; enqueue processing of the accepted ones on commit.

    - Valid and new → stored as `received` ("accepted").
    - Same (source, id) already stored and not rejected → "duplicate", nothing written.
    - A rejected event redelivered with the same id, now valid → replaces the rejected row.
    - Invalid → stored as `rejected` with its errors (the dead-letter view), "rejected".
    Two deliveries racing each other are settled by the unique constraint, not by the pre-check.
    """
    if len(raw_events) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} events per batch")
    batch_id = uuid.uuid4()
    validated = [event_validate(raw) for raw in raw_events]
    for index, item in enumerate(validated):
        if item.club_slug and item.club_slug != club.slug:
            validated[index] = _as_invalid(item, {"path": "club", "message": f"does not match the club '{club.slug}'"})

    keys = {(item.source, item.event_id) for item in validated if item.event_id}
    existing = _existing_events(club, keys)
    results: list[StoreResult | None] = [None] * len(validated)
    to_insert: dict[tuple[str, str], InboundEvent] = {}
    to_revive: list[InboundEvent] = []
    seen_in_batch: set[tuple[str, str]] = set()
    for index, item in enumerate(validated):
        key = (item.source, item.event_id)
        if item.event_id and key in seen_in_batch:
            results[index] = StoreResult(item.event_id, "duplicate")
            continue
        seen_in_batch.add(key)
        stored = existing.get(key) if item.event_id else None
        if isinstance(item, InvalidEvent):
            results[index] = StoreResult(item.event_id, "rejected", item.errors)
            if stored is None:
                row = _rejected_row(club, item, transport, batch_id)
                if item.event_id:
                    to_insert[key] = row
                else:
                    to_insert[("", f"#{index}")] = row
            continue
        if stored is not None and stored.status != InboundEventStatus.REJECTED:
            results[index] = StoreResult(item.event_id, "duplicate")
            continue
        results[index] = StoreResult(item.event_id, "accepted")
        if stored is not None:
            _fill_received(stored, item, transport, batch_id)
            to_revive.append(stored)
        else:
            to_insert[key] = _fill_received(InboundEvent(club=club), item, transport, batch_id)

    with transaction.atomic():
        InboundEvent.objects.bulk_create(list(to_insert.values()), batch_size=500, ignore_conflicts=True)
        if to_revive:
            InboundEvent.objects.for_club(club).bulk_update(
                to_revive,
                [
                    "type",
                    "occurred_at",
                    "schema_version",
                    "data",
                    "status",
                    "errors",
                    "attempts",
                    "transport",
                    "batch_id",
                    "next_attempt_at",
                ],
            )
        mine = {
            (source, event_id): pk
            for source, event_id, pk in InboundEvent.objects.for_club(club)
            .filter(batch_id=batch_id)
            .values_list("source", "event_id", "pk")
        }
        accepted_ids = []
        for item, result in zip(validated, results, strict=True):
            if result.status == "accepted":
                if (item.source, item.event_id) in mine:
                    accepted_ids.append(mine[(item.source, item.event_id)])
                else:
                    # Lost the race to a concurrent delivery of the same event.
                    result.status = "duplicate"
        if enqueue and accepted_ids:
            transaction.on_commit(lambda: process_inbound_events.delay(accepted_ids))
    return StoreOutcome(results, accepted_ids)


def _existing_events(club, keys) -> dict[tuple[str, str], InboundEvent]:
    if not keys:
        return {}
    by_source: dict[str, list[str]] = {}
    for source, event_id in keys:
        by_source.setdefault(source, []).append(event_id)
    condition = Q()
    for source, ids in by_source.items():
        condition |= Q(source=source, event_id__in=ids)
    rows = InboundEvent.objects.for_club(club).filter(condition).only("pk", "source", "event_id", "status")
    return {(row.source, row.event_id): row for row in rows}


def _fill_received(row: InboundEvent, item: ValidEvent, transport: str, batch_id) -> InboundEvent:
    row.source = item.source
    row.event_id = item.event_id
    row.type = item.type.name
    row.occurred_at = item.occurred_at
    row.schema_version = item.schema_version
    row.data = item.raw
    row.status = InboundEventStatus.RECEIVED
    row.errors = []
    row.attempts = 0
    row.next_attempt_at = None
    row.transport = transport
    row.batch_id = batch_id
    return row


def _rejected_row(club, item: InvalidEvent, transport: str, batch_id) -> InboundEvent:
    return InboundEvent(
        club=club,
        source=item.source[:12],
        event_id=item.event_id,
        type=item.type_name,
        occurred_at=item.occurred_at,
        data=item.raw_data if isinstance(item.raw_data, dict) else {"_raw": item.raw_data},
        status=InboundEventStatus.REJECTED,
        errors=item.errors,
        transport=transport,
        batch_id=batch_id,
    )


def _as_invalid(item, error: dict) -> InvalidEvent:
    if isinstance(item, InvalidEvent):
        return InvalidEvent(
            [*item.errors, error],
            item.event_id,
            item.source,
            item.type_name,
            item.occurred_at,
            item.club_slug,
            item.raw_data,
        )
    return InvalidEvent([error], item.event_id, item.source, item.type.name, item.occurred_at, item.club_slug, item.raw)
