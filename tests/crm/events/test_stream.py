"""The Redis Streams transport against a real Redis: ack after store, reclaim, dead letter."""

import json
import os
import uuid

import pytest
import redis

from crm.events.stream import stream_consume_once, stream_group_ensure
from crm.models import CustomerProfile, InboundEvent
from tests.factories.events import envelope

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def stream():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis answering at {REDIS_URL}; CI starts one (see .ci/run)")
    name = f"test-events-{uuid.uuid4().hex}"
    stream_group_ensure(client, name, "crm")
    yield client, name
    client.delete(name, f"{name}:dead")


def push(client, name, event) -> bytes:
    return client.xadd(name, {"event": json.dumps(event) if isinstance(event, dict) else event})


def consume(client, name, consumer="c1", **options):
    return stream_consume_once(client=client, stream=name, group="crm", consumer=consumer, block_ms=10, **options)


def pending_count(client, name) -> int:
    return client.xpending(name, "crm")["pending"]


def test_entries_are_stored_then_acked_and_processed(stream, club_a):
    client, name = stream
    push(client, name, envelope("member.created", {"member_id": "M1", "first_name": "Ann"}, club=club_a))
    push(client, name, envelope("round.completed", {"player_id": "P1", "round_id": "R1", "holes": 18}, club=club_a))
    result = consume(client, name)
    assert (result.read, result.stored, result.dead_lettered) == (2, 2, 0)
    assert pending_count(client, name) == 0
    assert InboundEvent.objects.for_club(club_a).filter(status="processed", transport="stream").count() == 2
    assert CustomerProfile.objects.for_club(club_a).count() == 2


def test_a_dead_consumers_entries_are_reclaimed_and_stored_once(stream, club_a):
    client, name = stream
    event = envelope("member.created", {"member_id": "M1"}, club=club_a)
    push(client, name, event)
    # Consumer "crashed" reads the entry and dies before storing it: the entry stays pending.
    client.xreadgroup("crm", "crashed", {name: ">"}, count=10)
    assert pending_count(client, name) == 1
    assert consume(client, name, consumer="c2", reclaim_idle_ms=60_000).read == 0  # not idle long enough yet
    result = consume(client, name, consumer="c2", reclaim_idle_ms=0)
    assert (result.reclaimed, result.stored) == (1, 1)
    assert pending_count(client, name) == 0
    # The producer delivers the same event again: stored once, applied once.
    push(client, name, event)
    consume(client, name, consumer="c2")
    assert InboundEvent.objects.for_club(club_a).count() == 1
    assert CustomerProfile.objects.for_club(club_a).count() == 1


def test_entries_no_club_can_take_go_to_the_dead_letter_stream(stream, club_a):
    client, name = stream
    push(client, name, "{not json")
    push(client, name, envelope("member.created", {"member_id": "M1"}, club=club_a) | {"club": "nowhere"})
    push(client, name, envelope("member.created", {"member_id": "M2"}, club=club_a))
    result = consume(client, name)
    assert (result.stored, result.dead_lettered) == (1, 2)
    assert pending_count(client, name) == 0  # a bad entry never blocks the group
    reasons = sorted(fields[b"reason"].decode() for _, fields in client.xrange(f"{name}:dead"))
    assert reasons == ["no club 'nowhere'", "the 'event' field is missing or not JSON"]
    assert InboundEvent.objects.for_club(club_a).count() == 1


def test_invalid_events_are_stored_rejected_and_acked(stream, club_a):
    client, name = stream
    push(client, name, envelope("member.created", {"first_name": "No id"}, club=club_a))
    consume(client, name)
    assert pending_count(client, name) == 0
    rejected = InboundEvent.objects.for_club(club_a).get()
    assert rejected.status == "rejected"
    assert any(error["path"] == "data.member_id" for error in rejected.errors)
