"""The Messaging client against the real simulator over HTTP: retries with backoff on transient
failures only, Retry-After, timeouts, idempotency keys replayed by the server, typed errors."""

import logging
import time

import pytest

from marketing.messaging.client import MessagingClient, MessagingNotFound, MessagingRejected, MessagingUnavailable
from tests.marketing.conftest import SIMULATOR_API_KEY


@pytest.fixture
def waits():
    return []


@pytest.fixture
def client(messaging_simulator, waits):
    """A client from settings whose waits are recorded (and still taken, they are milliseconds)."""

    def recorded_sleep(seconds):
        waits.append(seconds)
        time.sleep(seconds)

    return MessagingClient.from_settings(sleep=recorded_sleep)


def test_a_500_is_retried_with_backoff_then_succeeds_under_one_idempotency_key(client, messaging_simulator, waits):
    messaging_simulator.fail(mode="500", times=2, method="POST", path_prefix="/v1/lists")

    created = client.list_create(name="Gold", external_id="segment-1", idempotency_key="list-gold")

    attempts = messaging_simulator.requests(method="POST", path_suffix="/v1/lists")
    assert [request["outcome"] for request in attempts] == ["injected 500", "injected 500", "applied"]
    assert {request["idempotency_key"] for request in attempts} == {"list-gold"}
    assert len(waits) == 2 and 0 <= waits[0] <= 0.01 and 0 <= waits[1] <= 0.02  # full jitter under a doubling ceiling
    assert list(messaging_simulator.state()["lists"]) == [created.id]


def test_a_429_waits_as_long_as_retry_after_says(client, messaging_simulator, waits):
    messaging_simulator.fail(mode="429", times=1, retry_after=1, path_prefix="/v1/templates")
    started = time.monotonic()

    templates = client.templates()

    assert time.monotonic() - started >= 1.0
    assert waits == [1.0]
    assert "tpl_welcome" in {template.id for template in templates}


def test_retry_after_is_capped(messaging_simulator, waits):
    client = MessagingClient.from_settings(backoff_max_seconds=0.2, sleep=waits.append)
    messaging_simulator.fail(mode="429", times=1, retry_after=3600, path_prefix="/v1/templates")

    client.templates()

    assert waits == [0.2]


def test_a_timeout_is_retried(client, messaging_simulator):
    messaging_simulator.fail(mode="timeout", times=1, delay=1.0, path_prefix="/v1/templates")

    template = client.template_get(template_id="tpl_welcome")

    assert template.channel == "email"
    assert [request["outcome"] for request in messaging_simulator.requests()] == ["injected timeout", "read"]


def test_transient_failures_beyond_the_retries_raise_unavailable_with_status_and_body(client, messaging_simulator):
    messaging_simulator.fail(mode="500", times=10)

    with pytest.raises(MessagingUnavailable) as raised:
        client.list_create(name="Gold", external_id="segment-1", idempotency_key="list-gold")

    assert raised.value.status == 500 and raised.value.body["error"]["code"] == "internal"
    assert len(messaging_simulator.requests()) == 3  # the first attempt and MESSAGING_MAX_RETRIES=2 more


def test_other_4xx_answers_are_not_retried(client, messaging_simulator, waits):
    with pytest.raises(MessagingNotFound) as raised:
        client.list_add_contacts(list_id="lst_missing", contacts=[{"external_id": "1"}], idempotency_key="k1")

    assert raised.value.status == 404 and raised.value.method == "POST"
    assert len(messaging_simulator.requests()) == 1 and waits == []


def test_a_wrong_api_key_is_rejected_once(messaging_simulator):
    client = MessagingClient.from_settings(api_key="wrong-key-wrong-key")

    with pytest.raises(MessagingRejected) as raised:
        client.templates()

    assert raised.value.status == 401 and len(messaging_simulator.requests()) == 1


def test_the_simulator_replays_a_repeated_idempotency_key_without_a_second_effect(client, messaging_simulator):
    first = client.list_create(name="Gold", external_id="segment-1", idempotency_key="list-gold")
    again = client.list_create(name="Gold", external_id="segment-1", idempotency_key="list-gold")

    assert again == first
    assert list(messaging_simulator.state()["lists"]) == [first.id]
    assert [request["outcome"] for request in messaging_simulator.requests()] == ["applied", "replayed"]


def test_an_idempotency_key_reused_with_another_body_is_refused(client, messaging_simulator):
    client.list_create(name="Gold", external_id="segment-1", idempotency_key="list-gold")

    with pytest.raises(MessagingRejected) as raised:
        client.list_create(name="Silver", external_id="segment-2", idempotency_key="list-gold")

    assert raised.value.status == 422
    assert len(messaging_simulator.state()["lists"]) == 1


def test_mutating_calls_need_an_idempotency_key(client, messaging_simulator):
    with pytest.raises(ValueError, match="idempotency key"):
        client.list_create(name="Gold", external_id="segment-1", idempotency_key="")
    assert messaging_simulator.requests() == []


def test_list_members_are_added_removed_and_paged(client, messaging_simulator):
    created = client.list_create(name="Gold", external_id="segment-1", idempotency_key="list-gold")
    contacts = [{"external_id": str(number), "email": f"p{number}@example.test"} for number in range(10, 15)]

    added = client.list_add_contacts(list_id=created.id, contacts=contacts, idempotency_key="add-1")
    removed = client.list_remove_contacts(list_id=created.id, external_ids=["11", "99"], idempotency_key="remove-1")
    first = client.list_members(list_id=created.id, limit=3)
    second = client.list_members(list_id=created.id, cursor=first.next_cursor, limit=3)

    assert (added.changed, added.unchanged) == (5, 0)
    assert (removed.changed, removed.unchanged, removed.member_count) == (1, 1, 4)
    assert [member["external_id"] for member in first.members + second.members] == ["10", "12", "13", "14"]
    assert second.next_cursor is None
    assert client.list_get(list_id=created.id).member_count == 4


def test_a_batch_send_never_sends_a_recipient_twice(client, messaging_simulator):
    ann = {"external_id": "1", "email": "ann@example.test", "idempotency_key": "campaign-7-profile-1"}
    bob = {"external_id": "2", "email": "bob@example.test", "idempotency_key": "campaign-7-profile-2"}
    no_address = {"external_id": "3", "idempotency_key": "campaign-7-profile-3"}

    first = client.messages_send_batch(
        channel="email", template_id="tpl_welcome", recipients=[ann, no_address], idempotency_key="campaign-7-a"
    )
    # A differently cut batch (say, after a crash) that includes Ann again.
    second = client.messages_send_batch(
        channel="email", template_id="tpl_welcome", recipients=[ann, bob], idempotency_key="campaign-7-b"
    )

    assert [(outcome.external_id, outcome.status) for outcome in first] == [("1", "accepted"), ("3", "rejected")]
    assert [(outcome.external_id, outcome.status) for outcome in second] == [("1", "duplicate"), ("2", "accepted")]
    assert second[0].message_id == first[0].message_id
    assert sorted(message["external_id"] for message in messaging_simulator.state()["messages"]) == ["1", "2"]


def test_calls_are_logged_without_the_api_key(client, messaging_simulator, caplog):
    messaging_simulator.fail(mode="500", times=1)
    with caplog.at_level(logging.INFO, logger="marketing.messaging.client"):
        client.templates()

    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        line for line in lines if line.startswith("messaging GET /v1/templates status=")
    ] and len(lines) == 2
    assert "status=500 attempt=1" in lines[0] and "status=200 attempt=2" in lines[1]
    assert SIMULATOR_API_KEY not in caplog.text
    assert all(request["authorization"] != f"Bearer {SIMULATOR_API_KEY}" for request in messaging_simulator.requests())
