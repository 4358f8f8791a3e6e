"""The send ledger: every message to Messaging is a row written first, sent once under the row's
key, and marked sent only when Messaging acknowledged it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import CustomerProfile, Role
from marketing.errors import MarketingError, MarketingErrorCode
from marketing.messaging.client import MessagingClient
from marketing.models import MessageSend, SendPolicy, SendStatus
from marketing.services.sends import (
    MAX_SEND_ATTEMPTS,
    SendSource,
    send_retry_backoff,
    sends_dispatch,
    sends_enqueue,
)
from tests.concurrency import in_threads
from tests.factories.sends import ReachableProfileFactory

SPRING = SendSource.campaign_run(1)
WELCOME = {"template_id": "tpl_welcome", "variables": {"club_name": "Alpha"}}


def enqueue(club, profiles, *, source=SPRING, channel="email", **options):
    return sends_enqueue(
        club=club, source=source, channel=channel, profile_ids=[p.pk for p in profiles], **{**WELCOME, **options}
    )


def rows(club, source=SPRING):
    return MessageSend.objects.for_club(club).filter(source_kind=source.kind, source_id=source.id)


def statuses(club, source=SPRING) -> dict[int, str]:
    return dict(rows(club, source).values_list("profile_id", "status"))


def messages_to(simulator) -> list[str]:
    """Each message Messaging really sent, by recipient (a replay or a duplicate adds none)."""
    return sorted(message["external_id"] for message in simulator.state()["messages"])


def ids(profiles) -> list[str]:
    return sorted(str(profile.pk) for profile in profiles)


@pytest.fixture
def people(club_a):
    return ReachableProfileFactory.create_batch(5, club=club_a)


def test_enqueue_writes_one_pending_row_per_profile_before_anything_is_sent(club_a, people, messaging_simulator):
    result = enqueue(club_a, people)
    assert (result.created, result.pending) == (5, 5)
    assert set(statuses(club_a).values()) == {SendStatus.PENDING}
    assert messaging_simulator.requests(path_suffix="/messages/batch") == []


def test_enqueueing_the_same_profiles_again_writes_no_second_row(club_a, people):
    enqueue(club_a, people)
    again = enqueue(club_a, people + [ReachableProfileFactory(club=club_a)])
    assert (again.created, again.pending) == (1, 6)
    assert rows(club_a).count() == 6


def test_a_source_keeps_the_content_it_was_first_enqueued_with(club_a, people):
    enqueue(club_a, people[:2])
    with pytest.raises(MarketingError, match="content is fixed") as refused:
        enqueue(club_a, people[2:], template_id="tpl_renewal_reminder")
    assert refused.value.code == MarketingErrorCode.SEND_CONTENT_FIXED
    assert rows(club_a).count() == 2


@pytest.mark.parametrize(
    ("channel", "content"),
    [("fax", WELCOME), ("email", {"template_id": "", "body": ""})],
    ids=["not a channel", "no content"],
)
def test_a_send_a_marketer_got_wrong_is_refused_with_a_marketing_error_and_writes_nothing(
    club_a, people, channel, content
):
    with pytest.raises(MarketingError) as refused:
        sends_enqueue(club=club_a, source=SPRING, channel=channel, profile_ids=[p.pk for p in people], **content)
    assert refused.value.code == MarketingErrorCode.INVALID_SEND
    assert rows(club_a).count() == 0


def test_a_source_kind_only_code_can_get_wrong_stays_a_programming_error(club_a, people):
    with pytest.raises(ValueError, match="not a send source"):
        enqueue(club_a, people, source=SendSource("newsletter", 1))


def test_dispatch_sends_each_recipient_under_its_rows_key_and_marks_the_rows_sent(club_a, people, messaging_simulator):
    enqueue(club_a, people)
    result = sends_dispatch(club=club_a, source=SPRING, batch_size=2)
    assert (result.sent, result.batches) == (5, 3)
    messages = {message["external_id"]: message for message in messaging_simulator.state()["messages"]}
    assert sorted(messages) == ids(people)
    for row in rows(club_a):
        message = messages[str(row.profile_id)]
        assert (row.status, row.message_id, row.claimed_until) == (SendStatus.SENT, message["id"], None)
        assert message["idempotency_key"] == row.idempotency_key
        assert message["address"] == row.profile.primary_email
        assert message["template_id"] == "tpl_welcome"
        assert message["variables"] == {"club_name": "Alpha", "first_name": row.profile.first_name}


def test_the_key_is_derived_from_the_row_alone(club_a, people):
    enqueue(club_a, people[:1])
    row = rows(club_a).get()
    assert row.idempotency_key == f"fairway-send-{club_a.pk}-campaign_run-1-email-{people[0].pk}"


def test_dispatching_twice_sends_nobody_twice(club_a, people, messaging_simulator):
    enqueue(club_a, people)
    sends_dispatch(club=club_a, source=SPRING)
    second = sends_dispatch(club=club_a, source=SPRING)
    assert (second.sent, second.batches) == (0, 0)
    assert messages_to(messaging_simulator) == ids(people)


def test_a_batch_whose_answer_timed_out_is_retried_under_the_same_key_and_sent_once(
    club_a, people, messaging_simulator
):
    enqueue(club_a, people)
    messaging_simulator.fail(mode="timeout_after_apply", times=1, path_prefix="/v1/messages")
    result = sends_dispatch(club=club_a, source=SPRING)
    assert result.sent == 5
    batch_calls = messaging_simulator.requests(path_suffix="/messages/batch")
    assert [call["outcome"] for call in batch_calls] == ["applied, answered late", "replayed"]
    assert len({call["idempotency_key"] for call in batch_calls}) == 1
    assert messages_to(messaging_simulator) == ids(people)


def test_when_messaging_stays_down_the_rows_stay_pending_and_the_next_run_sends_them_once(
    club_a, people, messaging_simulator
):
    enqueue(club_a, people)
    # Messaging applies every attempt but no answer arrives in time: the client gives up.
    messaging_simulator.fail(mode="timeout_after_apply", times=3, path_prefix="/v1/messages")
    now = timezone.now()
    down = sends_dispatch(club=club_a, source=SPRING, clock=lambda: now)
    assert down.unavailable and down.sent == 0
    assert set(statuses(club_a).values()) == {SendStatus.PENDING}
    assert rows(club_a).filter(claimed_until__isnull=False).count() == 0  # released, due after a backoff

    back = sends_dispatch(club=club_a, source=SPRING, clock=lambda: now + send_retry_backoff(1))
    assert back.sent == 5
    assert set(statuses(club_a).values()) == {SendStatus.SENT}
    assert messages_to(messaging_simulator) == ids(people)


def test_rows_messaging_did_not_answer_for_wait_a_backoff_that_doubles_with_each_attempt(
    club_a, people, messaging_simulator
):
    enqueue(club_a, people)
    messaging_simulator.fail(mode="500", times=6, path_prefix="/v1/messages")  # two runs' worth of retries
    now = timezone.now()

    assert sends_dispatch(club=club_a, source=SPRING, clock=lambda: now).unavailable
    assert set(rows(club_a).values_list("due_at", flat=True)) == {now + timedelta(seconds=30)}
    # Not due before then: the source no longer comes first in the tick's order while Messaging is down.
    assert sends_dispatch(club=club_a, source=SPRING, clock=lambda: now + timedelta(seconds=29)).batches == 0

    second = now + timedelta(seconds=30)
    assert sends_dispatch(club=club_a, source=SPRING, clock=lambda: second).unavailable
    assert set(rows(club_a).values_list("due_at", "attempts")) == {(second + timedelta(seconds=60), 2)}

    assert sends_dispatch(club=club_a, source=SPRING, clock=lambda: second + timedelta(seconds=60)).sent == 5
    assert messages_to(messaging_simulator) == ids(people)


def test_rows_of_one_unanswered_batch_each_wait_the_backoff_of_their_own_attempts(club_a, people, messaging_simulator):
    enqueue(club_a, people[:2])
    rows(club_a).filter(profile=people[1]).update(attempts=2)  # two earlier attempts went unanswered
    messaging_simulator.fail(mode="500", times=3, path_prefix="/v1/messages")
    now = timezone.now()

    assert sends_dispatch(club=club_a, source=SPRING, clock=lambda: now).unavailable
    assert dict(rows(club_a).values_list("profile_id", "due_at")) == {
        people[0].pk: now + send_retry_backoff(1),
        people[1].pk: now + send_retry_backoff(3),
    }


def test_rows_messaging_never_answers_for_fail_after_the_last_attempt_with_the_reason(
    club_a, people, messaging_simulator
):
    enqueue(club_a, people)
    rows(club_a).update(attempts=MAX_SEND_ATTEMPTS - 1)  # every earlier attempt went unanswered
    messaging_simulator.fail(mode="500", times=3, path_prefix="/v1/messages")

    last = sends_dispatch(club=club_a, source=SPRING)

    assert last.unavailable and last.failed == 5
    assert set(statuses(club_a).values()) == {SendStatus.FAILED}
    assert set(rows(club_a).values_list("error", "attempts", "claimed_until")) == {
        (f"No answer from Messaging after {MAX_SEND_ATTEMPTS} attempts.", MAX_SEND_ATTEMPTS, None)
    }
    assert sends_dispatch(club=club_a, source=SPRING).batches == 0


def test_the_backoff_doubles_from_thirty_seconds_up_to_an_hour():
    assert [send_retry_backoff(attempts).total_seconds() for attempts in (1, 2, 3, 7, 12)] == [
        30,
        60,
        120,
        1920,
        3600,
    ]


class WorkerKilled(BaseException):
    """The process died right after Messaging applied the batch, before the ledger heard back."""


class DiesAfterSending(MessagingClient):
    def messages_send_batch(self, **request):
        super().messages_send_batch(**request)
        raise WorkerKilled


def test_a_dispatcher_killed_before_recording_the_answer_is_resumed_without_doubles_or_losses(
    club_a, people, messaging_simulator, settings
):
    enqueue(club_a, people)
    now = timezone.now()
    with pytest.raises(WorkerKilled):
        sends_dispatch(
            club=club_a, source=SPRING, batch_size=3, client=DiesAfterSending.from_settings(), clock=lambda: now
        )
    assert set(statuses(club_a).values()) == {SendStatus.PENDING}

    # While its claim lasts, nobody else takes the rows the dead dispatcher had.
    meanwhile = sends_dispatch(club=club_a, source=SPRING, batch_size=3, clock=lambda: now + timedelta(seconds=1))
    assert meanwhile.sent == 2  # the batch it never reached

    later = now + timedelta(seconds=settings.MESSAGING_SEND_CLAIM_SECONDS + 1)
    resumed = sends_dispatch(club=club_a, source=SPRING, batch_size=3, clock=lambda: later)
    assert resumed.sent == 3
    assert set(statuses(club_a).values()) == {SendStatus.SENT}
    assert messages_to(messaging_simulator) == ids(people)


def test_a_row_messaging_may_have_sent_is_sent_again_under_its_key_not_skipped_by_a_later_change(
    club_a, people, messaging_simulator
):
    enqueue(club_a, people[:1])
    messaging_simulator.fail(mode="timeout_after_apply", times=3, path_prefix="/v1/messages")
    now = timezone.now()
    assert sends_dispatch(club=club_a, source=SPRING, clock=lambda: now).unavailable  # applied, but no answer came
    CustomerProfile.objects.for_club(club_a).filter(pk=people[0].pk).update(email_opt_in=False)

    again = sends_dispatch(club=club_a, source=SPRING, clock=lambda: now + send_retry_backoff(1))
    # Messaging has it: the ledger says sent, as Messaging does, not "skipped: no consent".
    assert (again.sent, again.skipped) == (1, {})
    assert rows(club_a).get().status == SendStatus.SENT
    assert messages_to(messaging_simulator) == ids(people[:1])


def test_a_row_messaging_may_have_sent_is_acknowledged_even_if_its_address_went_meanwhile(
    club_a, people, messaging_simulator
):
    enqueue(club_a, people[:1])
    messaging_simulator.fail(mode="timeout_after_apply", times=3, path_prefix="/v1/messages")
    now = timezone.now()
    assert sends_dispatch(club=club_a, source=SPRING, clock=lambda: now).unavailable  # applied, but no answer came
    CustomerProfile.objects.for_club(club_a).filter(pk=people[0].pk).update(primary_email="")

    again = sends_dispatch(club=club_a, source=SPRING, clock=lambda: now + send_retry_backoff(1))
    # Messaging answers for the key it already sent, whatever the recipient's address is now.
    assert (again.sent, again.failed, again.skipped) == (1, 0, {})
    assert rows(club_a).get().status == SendStatus.SENT
    assert messages_to(messaging_simulator) == ids(people[:1])


def test_a_message_messaging_may_have_sent_counts_against_the_cap(club_a, people, messaging_simulator):
    SendPolicy.objects.create(club=club_a, frequency_cap_messages=1, frequency_cap_days=7)
    enqueue(club_a, people[:1])
    messaging_simulator.fail(mode="timeout_after_apply", times=3, path_prefix="/v1/messages")
    assert sends_dispatch(club=club_a, source=SPRING).unavailable
    autumn = enqueue(club_a, people[:1], source=SendSource.campaign_run(2))
    assert autumn.skipped == {"frequency_cap": 1}


def test_a_batch_messaging_rejects_fails_its_rows_with_the_reason(club_a, people, messaging_simulator):
    enqueue(club_a, people, template_id="tpl_retired")
    result = sends_dispatch(club=club_a, source=SPRING)
    assert result.failed == 5
    failed = rows(club_a).first()
    assert failed.status == SendStatus.FAILED
    assert "No template tpl_retired" in failed.error
    assert sends_dispatch(club=club_a, source=SPRING).batches == 0  # failed is final


def test_another_clubs_profiles_get_no_row_and_no_message(club_a, club_b, people, messaging_simulator):
    theirs = ReachableProfileFactory.create_batch(2, club=club_b)
    result = enqueue(club_a, people + theirs)
    assert (result.created, result.pending) == (5, 5)
    sends_dispatch(club=club_a, source=SPRING)
    assert messages_to(messaging_simulator) == ids(people)
    assert not MessageSend.objects.for_club(club_b).exists()


def test_the_same_source_id_of_another_club_is_another_source(club_a, club_b, people, messaging_simulator):
    theirs = ReachableProfileFactory.create_batch(2, club=club_b)
    enqueue(club_a, people)
    enqueue(club_b, theirs)
    assert sends_dispatch(club=club_b, source=SPRING).sent == 2
    assert messages_to(messaging_simulator) == ids(theirs)
    assert set(statuses(club_a).values()) == {SendStatus.PENDING}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent dispatchers need concurrent writers; SQLite serialises them. CI runs this on PostgreSQL",
)
def test_two_dispatchers_at_once_send_every_profile_exactly_once(club_a, messaging_simulator):
    everyone = ReachableProfileFactory.create_batch(60, club=club_a)
    enqueue(club_a, everyone)
    results = in_threads(2, lambda: sends_dispatch(club=club_a, source=SPRING, batch_size=4))
    assert sum(result.sent for result in results) == 60
    assert set(statuses(club_a).values()) == {SendStatus.SENT}
    assert messages_to(messaging_simulator) == ids(everyone)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent enqueues need concurrent writers; SQLite serialises them. CI runs this on PostgreSQL",
)
def test_two_workers_enqueueing_one_source_at_once_write_and_report_each_row_once(club_a):
    everyone = ReachableProfileFactory.create_batch(30, club=club_a)
    for round_ in range(5):  # the window between an enqueue's counts is short: a few rounds
        source = SendSource.campaign_run(100 + round_)
        results = in_threads(2, lambda source=source: enqueue(club_a, everyone, source=source))
        assert rows(club_a, source).count() == 30
        assert sorted(result.created for result in results) == [0, 30]
        assert [result.pending for result in results] == [30, 30]


def test_a_recipient_messaging_rejects_is_failed_with_the_reason_and_the_rest_are_sent(
    club_a, people, messaging_simulator
):
    messaging_simulator.block(people[1].primary_email)
    enqueue(club_a, people)
    result = sends_dispatch(club=club_a, source=SPRING)
    assert (result.sent, result.failed) == (4, 1)
    rejected = rows(club_a).get(profile=people[1])
    assert (rejected.status, rejected.error) == (SendStatus.FAILED, f"{people[1].primary_email} is blocked")
    assert messages_to(messaging_simulator) == ids(people[:1] + people[2:])


def test_a_dispatch_costs_the_same_queries_for_few_or_many_recipients(club_a, messaging_simulator):
    few, many = SendSource.campaign_run(10), SendSource.campaign_run(11)
    enqueue(club_a, ReachableProfileFactory.create_batch(2, club=club_a), source=few)
    enqueue(club_a, ReachableProfileFactory.create_batch(40, club=club_a), source=many)
    with CaptureQueriesContext(connection) as for_few:
        assert sends_dispatch(club=club_a, source=few).sent == 2
    with CaptureQueriesContext(connection) as for_many:
        assert sends_dispatch(club=club_a, source=many).sent == 40
    assert len(for_many.captured_queries) == len(for_few.captured_queries)


def test_staff_see_their_clubs_ledger_read_only_and_not_another_clubs(client_for, club_a, club_b, people):
    enqueue(club_a, people[:1])
    enqueue(club_b, [ReachableProfileFactory(club=club_b, first_name="Bertie", last_name="Bravo")])
    ours, theirs = rows(club_a).get(), rows(club_b).get()
    client = client_for(club_a, Role.ADMIN)
    listing = client.get(reverse("admin:marketing_messagesend_changelist")).content.decode()
    assert str(people[0]) in listing and "Bertie" not in listing
    assert client.get(reverse("admin:marketing_messagesend_change", args=[ours.pk])).status_code == 200
    # Django's admin answers a redirect with "doesn't exist" for ids it can't see; never the row.
    other = client.get(reverse("admin:marketing_messagesend_change", args=[theirs.pk]))
    assert other.status_code in (302, 404) and b"Bertie" not in other.content
    assert client.get(reverse("admin:marketing_messagesend_add")).status_code == 403
    client.post(reverse("admin:marketing_messagesend_change", args=[ours.pk]), {"status": "sent"})
    assert rows(club_a).get().status == SendStatus.PENDING


def test_a_source_sending_on_two_channels_sends_each_under_its_own_content(club_a, people, messaging_simulator):
    enqueue(club_a, people[:2])
    enqueue(club_a, people[:2], channel="sms", template_id="tpl_tee_time_sms", variables={})
    assert sends_dispatch(club=club_a, source=SPRING).sent == 4
    sent = messaging_simulator.state()["messages"]
    assert sorted((message["channel"], message["template_id"]) for message in sent) == [
        ("email", "tpl_welcome"),
        ("email", "tpl_welcome"),
        ("sms", "tpl_tee_time_sms"),
        ("sms", "tpl_tee_time_sms"),
    ]
    assert {message["address"] for message in sent if message["channel"] == "sms"} == {
        person.primary_phone for person in people[:2]
    }


def test_an_enqueue_costs_the_same_queries_for_few_or_many_profiles(club_a):
    few, many = (
        ReachableProfileFactory.create_batch(2, club=club_a),
        ReachableProfileFactory.create_batch(40, club=club_a),
    )
    with CaptureQueriesContext(connection) as for_few:
        enqueue(club_a, few, source=SendSource.campaign_run(10))
    with CaptureQueriesContext(connection) as for_many:
        enqueue(club_a, many, source=SendSource.campaign_run(11))
    assert len(for_many.captured_queries) == len(for_few.captured_queries)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plan; CI runs this on PostgreSQL")
def test_the_ledger_admins_newest_first_page_is_read_from_an_index_not_sorted(club_a, people):
    enqueue(club_a, people)
    with connection.cursor() as cursor:
        # A few rows would be read whole and sorted anyway; make the planner show what it can use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    newest_first = rows(club_a).order_by("-created_at", "-id")[:100]  # MessageSendAdmin's order
    assert "message_send_newest" in newest_first.explain()
