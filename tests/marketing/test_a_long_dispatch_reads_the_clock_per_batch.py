"""A dispatch that takes a while reads the time per batch: quiet hours that begin mid-run stop it,
each batch's claim lasts from when that batch was claimed, and each row's `sent_at` is when
Messaging acknowledged it."""

from datetime import UTC, datetime, time, timedelta

import pytest

from marketing.messaging.client import MessagingClient
from marketing.models import MessageSend, SendPolicy, SendStatus
from marketing.services.sends import SendSource, sends_dispatch, sends_enqueue
from tests.factories.sends import ReachableProfileFactory

SPRING = SendSource.campaign_run(1)
START = datetime(2026, 6, 10, 18, 58, 30, tzinfo=UTC)  # 20:58:30 in Johannesburg (UTC+2)


class Clock:
    """The time as the dispatcher reads it; moved on only by the slow Messaging below."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class SlowMessaging(MessagingClient):
    """Messaging that takes `took` to answer each batch, and that dies on the `dies_on`-th batch
    right after applying it (a worker killed before it heard back)."""

    clock: Clock
    took = timedelta(minutes=1)
    dies_on: int | None = None
    calls = 0

    def messages_send_batch(self, **request):
        answer = super().messages_send_batch(**request)
        self.calls += 1
        self.clock.now += self.took
        if self.calls == self.dies_on:
            raise WorkerKilled
        return answer


class WorkerKilled(BaseException):
    pass


def slow_messaging(clock: Clock, **options) -> SlowMessaging:
    client = SlowMessaging.from_settings()
    client.clock = clock
    for name, value in options.items():
        setattr(client, name, value)
    return client


def rows(club):
    return (
        MessageSend.objects.for_club(club).filter(source_kind=SPRING.kind, source_id=SPRING.id).order_by("profile_id")
    )


@pytest.fixture
def people(club_a):
    people = ReachableProfileFactory.create_batch(5, club=club_a)
    sends_enqueue(club=club_a, source=SPRING, channel="email", profile_ids=[p.pk for p in people], body="Hi", now=START)
    return people


def test_quiet_hours_that_begin_during_a_run_stop_it_and_defer_the_rest(club_a, people, messaging_simulator):
    SendPolicy.objects.create(club=club_a, quiet_hours_start=time(21), quiet_hours_end=time(8))
    clock = Clock(START)
    result = sends_dispatch(club=club_a, source=SPRING, batch_size=1, client=slow_messaging(clock), clock=clock)
    # Claimed at 20:58:30 and 20:59:30; at 21:00:30 quiet hours have begun.
    assert (result.sent, result.deferred) == (2, 3)
    assert len(messaging_simulator.state()["messages"]) == 2
    next_morning = datetime(2026, 6, 11, 6, 0, tzinfo=UTC)
    assert set(rows(club_a).filter(status=SendStatus.DEFERRED).values_list("due_at", flat=True)) == {next_morning}


def test_each_batch_is_stamped_with_the_time_it_was_claimed_and_acknowledged(
    club_a, people, messaging_simulator, settings
):
    settings.MESSAGING_SEND_CLAIM_SECONDS = 900
    clock = Clock(START)
    client = slow_messaging(clock, took=timedelta(minutes=10), dies_on=3)
    with pytest.raises(WorkerKilled):
        sends_dispatch(club=club_a, source=SPRING, batch_size=2, client=client, clock=clock)
    sent_at = [row.sent_at for row in rows(club_a)]
    assert sent_at[:4] == [START + timedelta(minutes=10)] * 2 + [START + timedelta(minutes=20)] * 2
    # The dead worker's last batch was claimed at +20 minutes: its claim lasts until +35, so a
    # dispatcher starting when it died (+30) leaves it alone instead of taking it over at once.
    assert rows(club_a).last().claimed_until == START + timedelta(minutes=35)
    assert sends_dispatch(club=club_a, source=SPRING, clock=clock).batches == 0
