"""Redis Streams transport: read with a consumer group, ack only after the event is stored.

Each stream entry carries one envelope as JSON in the field `event`. Entries a dead consumer
left pending are reclaimed (XAUTOCLAIM) after `reclaim_idle_ms`. Entries that can't be stored
for any club (not JSON, unknown club) go to `<stream>:dead` with the reason, then are acked, so
one bad entry never blocks the group.
"""

import json
import logging
from collections import defaultdict
from dataclasses import dataclass

import redis

from crm.events.store import MAX_BATCH, events_store
from crm.models import Club

logger = logging.getLogger(__name__)


@dataclass
class ConsumeResult:
    read: int = 0
    reclaimed: int = 0
    stored: int = 0
    dead_lettered: int = 0


def stream_group_ensure(client: redis.Redis, stream: str, group: str) -> None:
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def stream_consume_once(
    *,
    client: redis.Redis,
    stream: str,
    group: str,
    consumer: str,
    count: int = 500,
    block_ms: int = 2000,
    reclaim_idle_ms: int = 60_000,
) -> ConsumeResult:
    result = ConsumeResult()
    _, claimed, _ = client.xautoclaim(
        stream, group, consumer, min_idle_time=reclaim_idle_ms, start_id="0-0", count=count
    )
    entries = [entry for entry in claimed if entry and entry[1]]
    result.reclaimed = len(entries)
    if len(entries) < count:
        response = client.xreadgroup(
            group, consumer, {stream: ">"}, count=count - len(entries), block=None if entries else block_ms
        )
        for _, stream_entries in response or []:
            entries.extend(stream_entries)
    result.read = len(entries)
    if not entries:
        return result

    by_club: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    dead: list[tuple[str, dict, str]] = []
    for entry_id, fields in entries:
        raw = fields.get(b"event") or fields.get("event")
        try:
            event = json.loads(raw)
        except (TypeError, ValueError):
            dead.append((entry_id, fields, "the 'event' field is missing or not JSON"))
            continue
        if not isinstance(event, dict) or not isinstance(event.get("club"), str):
            dead.append((entry_id, fields, "the event has no 'club'"))
            continue
        by_club[event["club"]].append((entry_id, event))

    clubs = {club.slug: club for club in Club.objects.filter(slug__in=list(by_club))}
    for slug, items in by_club.items():
        club = clubs.get(slug)
        if club is None:
            dead.extend((entry_id, {"event": json.dumps(event)}, f"no club '{slug}'") for entry_id, event in items)
            continue
        for start in range(0, len(items), MAX_BATCH):
            chunk = items[start : start + MAX_BATCH]
            events_store(club=club, raw_events=[event for _, event in chunk], transport="stream")
            # Stored (committed) first, acked second: a crash in between means a redelivery,
            # which the store turns into a duplicate. Never a loss.
            client.xack(stream, group, *[entry_id for entry_id, _ in chunk])
            result.stored += len(chunk)

    for entry_id, fields, reason in dead:
        client.xadd(
            f"{stream}:dead",
            {**{_text(k): _text(v) for k, v in fields.items()}, "reason": reason, "entry_id": _text(entry_id)},
        )
        client.xack(stream, group, entry_id)
        result.dead_lettered += 1
    return result


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
