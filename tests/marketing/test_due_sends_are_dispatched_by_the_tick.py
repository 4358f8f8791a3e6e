"""Nothing sends itself: the sends tick finds the sources with sends due, across clubs, and enqueues
one bounded dispatch per source, which goes on until its sends are out, and sends nobody twice."""

import zoneinfo
from datetime import time, timedelta

import pytest
from celery.signals import task_prerun
from django.utils import timezone

from config.celery import app as celery_app
from marketing import tasks as marketing_tasks
from marketing.messaging.client import MessagingClient
from marketing.models import MessageSend, SendDispatch, SendDispatchStatus, SendPolicy, SendStatus
from marketing.services.sends import (
    SEND_DISPATCH_STALE_AFTER,
    SendSource,
    send_sources_due_for_dispatch,
    sends_dispatch,
    sends_enqueue,
)
from tests.factories.events import ago
from tests.factories.sends import ReachableProfileFactory

SPRING = SendSource.campaign_run(1)
AUTUMN = SendSource.campaign_run(2)
BIRTHDAY = SendSource.journey_step(7)
WELCOME = {"template_id": "tpl_welcome"}
ITEM = "marketing.tasks.dispatch_due_sends"


@pytest.fixture
def items():
    """The dispatch items that run (tests run tasks eagerly, as they are sent): their club and source
    (not the lease a continuation carries), in order."""
    seen = []

    def record(sender=None, args=None, **_kwargs):
        if sender.name == ITEM:
            seen.append(tuple(args or ())[:3])

    task_prerun.connect(record, weak=False)
    yield seen
    task_prerun.disconnect(record)


def enqueue(club, source, people, **options):
    return sends_enqueue(
        club=club, source=source, channel="email", profile_ids=[person.pk for person in people], **WELCOME, **options
    )


def rows(club, source):
    return MessageSend.objects.for_club(club).filter(source_kind=source.kind, source_id=source.id)


def messages_to(simulator) -> list[str]:
    """Each message Messaging really sent, by recipient (a replay or a duplicate adds none)."""
    return sorted(message["external_id"] for message in simulator.state()["messages"])


def ids(people) -> list[str]:
    return sorted(str(person.pk) for person in people)


def item(club, source) -> tuple:
    return (club.pk, source.kind, source.id)


def test_the_tick_enqueues_one_dispatch_per_source_with_sends_due_oldest_first(
    club_a, club_b, items, messaging_simulator
):
    spring = ReachableProfileFactory.create_batch(2, club=club_a)
    birthday = ReachableProfileFactory.create_batch(2, club=club_b)
    enqueue(club_a, SPRING, spring, now=ago(minutes=2))
    enqueue(club_b, BIRTHDAY, birthday, now=ago(minutes=5))
    # A dispatcher that died left its claim behind; once the claim has passed, its rows are due.
    abandoned = ReachableProfileFactory(club=club_a)
    enqueue(club_a, AUTUMN, [abandoned], now=ago(minutes=30))
    rows(club_a, AUTUMN).update(claimed_until=ago(seconds=1))

    assert marketing_tasks.sends_dispatch_tick() == 3

    assert items == [item(club_a, AUTUMN), item(club_b, BIRTHDAY), item(club_a, SPRING)]
    assert messages_to(messaging_simulator) == ids(spring + birthday + [abandoned])
    assert list(send_sources_due_for_dispatch()) == []


def test_a_tick_enqueues_at_most_its_limit_and_leaves_the_newest_for_the_next(
    club_a, items, messaging_simulator, monkeypatch
):
    monkeypatch.setattr(marketing_tasks, "SENDS_TICK_LIMIT", 1)
    enqueue(club_a, SPRING, [ReachableProfileFactory(club=club_a)], now=ago(minutes=1))
    enqueue(club_a, AUTUMN, [ReachableProfileFactory(club=club_a)], now=ago(minutes=2))

    assert marketing_tasks.sends_dispatch_tick() == 1
    assert marketing_tasks.sends_dispatch_tick() == 1

    assert items == [item(club_a, AUTUMN), item(club_a, SPRING)]


def test_the_tick_enqueues_nothing_for_sources_with_nothing_due(club_a, club_b, items, messaging_simulator):
    sent, claimed, later = SendSource.campaign_run(10), SendSource.campaign_run(11), SendSource.journey_step(12)
    enqueue(club_a, sent, [ReachableProfileFactory(club=club_a)])
    sends_dispatch(club=club_a, source=sent)
    # A live dispatcher holds these: they are its to send.
    enqueue(club_a, claimed, [ReachableProfileFactory(club=club_a)])
    rows(club_a, claimed).update(claimed_until=timezone.now() + timedelta(minutes=5))
    enqueue(club_b, later, [ReachableProfileFactory(club=club_b)])
    rows(club_b, later).update(status=SendStatus.DEFERRED, due_at=timezone.now() + timedelta(hours=1))
    skipped = ReachableProfileFactory(club=club_a, email_opt_in=False)
    enqueue(club_a, SPRING, [skipped])

    assert marketing_tasks.sends_dispatch_tick() == 0

    assert items == []
    assert len(messaging_simulator.requests(path_suffix="/messages/batch")) == 1  # the first source's, above


def test_a_dispatch_sends_a_few_batches_and_re_enqueues_itself_until_every_recipient_has_one_message(
    club_a, items, messaging_simulator, settings, monkeypatch
):
    settings.MESSAGING_SEND_BATCH = 2
    monkeypatch.setattr(marketing_tasks, "SENDS_BATCHES_PER_TASK", 2)
    everyone = ReachableProfileFactory.create_batch(9, club=club_a)
    enqueue(club_a, SPRING, everyone)

    assert marketing_tasks.sends_dispatch_tick() == 1

    assert items == [item(club_a, SPRING)] * 3  # two batches, two batches, the last one
    batches = messaging_simulator.requests(path_suffix="/messages/batch")
    assert [len(batch["body"]["recipients"]) for batch in batches] == [2, 2, 2, 2, 1]
    assert messages_to(messaging_simulator) == ids(everyone)
    assert set(rows(club_a, SPRING).values_list("status", flat=True)) == {SendStatus.SENT}
    assert marketing_tasks.sends_dispatch_tick() == 0


def test_a_tick_between_a_chains_tasks_starts_no_second_chain_of_the_same_source(
    club_a, items, messaging_simulator, settings, monkeypatch
):
    settings.MESSAGING_SEND_BATCH = 2
    monkeypatch.setattr(marketing_tasks, "SENDS_BATCHES_PER_TASK", 1)
    everyone = ReachableProfileFactory.create_batch(5, club=club_a)
    enqueue(club_a, SPRING, everyone)
    ticks_between = []

    def tick_before_each_continuation(sender=None, args=None, **_kwargs):
        # The chain's next task is about to start: its predecessor's rows are sent, the rest are
        # due and claimed by nobody, as they are while the continuation waits in the queue.
        if sender.name == ITEM and len(items) > 1 and len(ticks_between) < 5:
            ticks_between.append(marketing_tasks.sends_dispatch_tick())

    task_prerun.connect(tick_before_each_continuation, weak=False)
    try:
        assert marketing_tasks.sends_dispatch_tick() == 1
    finally:
        task_prerun.disconnect(tick_before_each_continuation)

    assert ticks_between == [0, 0]
    assert items == [item(club_a, SPRING)] * 3  # one chain: a batch, a batch, the last one
    assert messages_to(messaging_simulator) == ids(everyone)
    assert SendDispatch.objects.for_club(club_a).get().status == SendDispatchStatus.IDLE


def test_a_chain_that_died_holds_its_source_only_until_its_lease_is_stale(club_a, items, messaging_simulator):
    everyone = ReachableProfileFactory.create_batch(3, club=club_a)
    enqueue(club_a, SPRING, everyone)
    dead = SendDispatch.objects.create(
        club=club_a, source_kind=SPRING.kind, source_id=SPRING.id, status=SendDispatchStatus.RUNNING
    )
    SendDispatch.objects.for_club(club_a).filter(pk=dead.pk).update(heartbeat_at=timezone.now())
    assert marketing_tasks.sends_dispatch_tick() == 0  # a live chain's: it sends them itself

    # Killed at its hard limit: its heartbeat is older than any live task's.
    stale = timezone.now() - SEND_DISPATCH_STALE_AFTER - timedelta(seconds=1)
    SendDispatch.objects.for_club(club_a).filter(pk=dead.pk).update(heartbeat_at=stale)

    assert marketing_tasks.sends_dispatch_tick() == 1
    assert messages_to(messaging_simulator) == ids(everyone)


def test_a_continuation_whose_chain_was_taken_over_sends_nothing(club_a, items, messaging_simulator):
    enqueue(club_a, SPRING, ReachableProfileFactory.create_batch(2, club=club_a))
    stale = timezone.now() - SEND_DISPATCH_STALE_AFTER - timedelta(seconds=1)
    SendDispatch.objects.create(
        club=club_a, source_kind=SPRING.kind, source_id=SPRING.id, status=SendDispatchStatus.RUNNING, heartbeat_at=stale
    )
    # The new chain holds the lease (it is between its tasks): the old chain's late continuation
    # finds its token gone and the lease live, and stops.
    SendDispatch.objects.for_club(club_a).update(heartbeat_at=timezone.now())

    assert marketing_tasks.dispatch_due_sends.delay(*item(club_a, SPRING), stale.isoformat()).get() == 0

    assert messages_to(messaging_simulator) == []


def test_a_tick_that_runs_twice_sends_everyone_once(club_a, items, messaging_simulator):
    everyone = ReachableProfileFactory.create_batch(3, club=club_a)
    enqueue(club_a, SPRING, everyone)

    assert marketing_tasks.sends_dispatch_tick() == 1
    assert marketing_tasks.sends_dispatch_tick() == 0
    # The same item again, as a tick that ran while the first one waited in the queue sends it.
    assert marketing_tasks.dispatch_due_sends.delay(*item(club_a, SPRING)).get() == 0

    assert len(messaging_simulator.requests(path_suffix="/messages/batch")) == 1
    assert messages_to(messaging_simulator) == ids(everyone)


class TicksWhileSending(MessagingClient):
    """A slow dispatcher: while its first batch is out at Messaging (claimed, not yet answered), the
    tick runs and its item dispatches the same source."""

    overlapping_items: list

    def messages_send_batch(self, **request):
        if not hasattr(self, "overlapping_items"):
            self.overlapping_items = [marketing_tasks.sends_dispatch_tick()]
        return super().messages_send_batch(**request)


def test_a_tick_overlapping_a_slow_dispatch_sends_only_what_the_slow_one_has_not_claimed(
    club_a, items, messaging_simulator
):
    everyone = ReachableProfileFactory.create_batch(7, club=club_a)
    enqueue(club_a, SPRING, everyone)
    slow = TicksWhileSending.from_settings()

    result = sends_dispatch(club=club_a, source=SPRING, batch_size=3, max_batches=1, client=slow)

    assert slow.overlapping_items == [1] and items == [item(club_a, SPRING)]
    assert result.sent == 3 and not result.more_to_do  # the overlapping item sent the other four
    assert messages_to(messaging_simulator) == ids(everyone)
    outcomes = [call["outcome"] for call in messaging_simulator.requests(path_suffix="/messages/batch")]
    assert "replayed" not in outcomes and len(outcomes) == 2
    assert set(rows(club_a, SPRING).values_list("status", flat=True)) == {SendStatus.SENT}


def quiet_hours_around(club, start_hours_from_now: float, end_hours_from_now: float) -> SendPolicy:
    """Quiet hours of the club from `start` to `end` hours from now (negative: ago), in its local time."""
    local = timezone.now().astimezone(zoneinfo.ZoneInfo(club.timezone))

    def at(hours: float) -> time:
        return (local + timedelta(hours=hours)).time().replace(second=0, microsecond=0)

    return SendPolicy.objects.create(
        club=club, quiet_hours_start=at(start_hours_from_now), quiet_hours_end=at(end_hours_from_now)
    )


def test_sends_deferred_by_quiet_hours_are_not_dispatched_before_they_end(club_a, items, messaging_simulator):
    quiet_hours_around(club_a, -1, 1)
    person = ReachableProfileFactory(club=club_a)
    assert enqueue(club_a, SPRING, [person]).deferred == 1

    assert marketing_tasks.sends_dispatch_tick() == 0

    assert items == [] and messages_to(messaging_simulator) == []


def test_sends_whose_quiet_hours_have_ended_are_sent_by_the_next_tick(club_a, items, messaging_simulator):
    quiet_hours_around(club_a, -3, -1)
    person = ReachableProfileFactory(club=club_a)
    assert enqueue(club_a, SPRING, [person], now=timezone.now() - timedelta(hours=2)).deferred == 1
    assert rows(club_a, SPRING).get().due_at <= timezone.now()

    assert marketing_tasks.sends_dispatch_tick() == 1

    assert messages_to(messaging_simulator) == ids([person])
    assert rows(club_a, SPRING).get().status == SendStatus.SENT


def test_a_dispatch_finishes_inside_its_limit_before_its_claims_could_be_taken_over(settings):
    assert celery_app.tasks[ITEM].time_limit < settings.MESSAGING_SEND_CLAIM_SECONDS


def test_a_dispatch_is_killed_before_its_sources_lease_could_be_taken_over():
    assert celery_app.tasks[ITEM].time_limit <= SEND_DISPATCH_STALE_AFTER.total_seconds()
