"""Scheduled work really runs: beat (database scheduler) → broker → a real worker → the database."""

import os
import time
from datetime import timedelta

import pytest
from celery.signals import task_prerun
from django_celery_beat.models import PeriodicTask

from config.celery import app as celery_app
from config.schedules import declared_schedules, schedules_sync
from crm import tasks as crm_tasks
from crm.events.store import events_store
from crm.models import Activity, InboundEvent, InboundEventStatus, SchedulerHeartbeat
from marketing import tasks as marketing_tasks
from marketing.models import MessageSend, MessagingListEntry, Segment, SegmentMember, SendStatus, SyncStatus
from marketing.services.messaging_sync import segments_due_for_sync
from marketing.services.segments import segment_refresh, segments_due_for_refresh
from marketing.services.sends import SendSource, sends_enqueue
from tests.factories import ProfileFactory, SegmentFactory
from tests.factories.events import ago, envelope
from tests.factories.sends import ReachableProfileFactory
from tests.marketing.conftest import SIMULATOR_API_KEY
from tests.platform.processes import child_environment, database_url_for_children, start_worker, stop


def wait_for_heartbeats(count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    runs = 0
    while time.monotonic() < deadline:
        beat = SchedulerHeartbeat.objects.filter(name="scheduler").first()
        runs = beat.run_count if beat else 0
        if runs >= count:
            break
        time.sleep(0.5)
    return runs


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_periodic_job_runs_under_the_embedded_default(tmp_path, club_a, messaging_simulator):
    """No Redis: the filesystem broker and an embedded beat, exactly as `make run` starts them."""
    lost = store(club_a, 2)  # stored, but their processing task never sent
    InboundEvent.objects.for_club(club_a).filter(pk__in=lost).update(received_at=ago(minutes=5))
    never_refreshed = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    recipients = [person.pk for person in ReachableProfileFactory.create_batch(2, club=club_a)]
    spring = SendSource.campaign_run(1)
    sends_enqueue(club=club_a, source=spring, channel="email", profile_ids=recipients, template_id="tpl_welcome")
    schedules_sync()  # with this process's settings (a 60 s heartbeat); beat's own upsert makes it 1 s
    PeriodicTask.objects.update(last_run_at=ago(hours=1))  # as after a night's downtime: every job due at once
    env = child_environment(
        DATABASE_URL=database_url_for_children(),
        REDIS_URL="",
        CELERY_BROKER_URL="filesystem://",
        CELERY_BROKER_FOLDER=tmp_path / "broker",
        FAIRWAY_HEARTBEAT_SECONDS=1,
        MESSAGING_BASE_URL=messaging_simulator.url,
        MESSAGING_API_KEY=SIMULATOR_API_KEY,
    )
    worker = start_worker(env=env, log_path=tmp_path / "worker.log")
    try:
        runs = wait_for_heartbeats(2, timeout=90)
        # The ticks ran and fanned out through the ingest, segments and sends queues, which the one
        # embedded worker consumes along with the default queue.
        processed = wait_for(
            lambda: set(InboundEvent.objects.for_club(club_a).values_list("status", flat=True)) == {"processed"}, 60
        )
        refreshed = wait_for(
            lambda: Segment.objects.for_club(club_a).get(pk=never_refreshed.pk).last_refreshed_at is not None, 60
        )
        sent = wait_for(
            lambda: set(MessageSend.objects.for_club(club_a).values_list("status", flat=True)) == {SendStatus.SENT}, 60
        )
    finally:
        stop(worker)
    log = (tmp_path / "worker.log").read_text()
    assert runs >= 2, log[-3000:]
    assert processed and refreshed and sent, log[-3000:]
    assert sorted(message["external_id"] for message in messaging_simulator.state()["messages"]) == sorted(
        str(pk) for pk in recipients
    )
    # Beat upserted the declared schedule on start, with the worker's settings.
    assert PeriodicTask.objects.get(name="system.scheduler_heartbeat").interval.every == 1
    assert all(f".> {queue}" in log for queue in ("default", "ingest", "segments", "messaging", "sends")), log[:3000]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set: the Redis broker path runs in CI")
def test_periodic_job_runs_on_redis(tmp_path):
    env = child_environment(DATABASE_URL=database_url_for_children(), FAIRWAY_HEARTBEAT_SECONDS=1)
    worker = start_worker(env=env, log_path=tmp_path / "worker.log")
    try:
        runs = wait_for_heartbeats(2, timeout=90)
    finally:
        stop(worker)
    assert runs >= 2, (tmp_path / "worker.log").read_text()[-3000:]


def test_schedules_upsert_by_name_and_keep_an_admins_toggle(db):
    first = schedules_sync()
    assert first["created"] == len(declared_schedules())
    heartbeat = PeriodicTask.objects.get(name="system.scheduler_heartbeat")
    heartbeat.enabled = False
    heartbeat.save()
    again = schedules_sync()
    assert again == {"created": 0, "updated": 0, "disabled": 0}
    assert PeriodicTask.objects.get(name="system.scheduler_heartbeat").enabled is False
    assert PeriodicTask.objects.filter(name__in=[job.name for job in declared_schedules()]).count() == len(
        declared_schedules()
    )


def test_a_job_dropped_from_the_declaration_is_disabled_not_deleted(db):
    schedules_sync()
    PeriodicTask.objects.filter(name="system.scheduler_heartbeat").update(name="system.retired_job")
    result = schedules_sync()
    assert result["disabled"] == 1
    assert PeriodicTask.objects.get(name="system.retired_job").enabled is False


def test_every_schedule_expires_after_about_one_and_a_half_intervals(db):
    schedules_sync()
    for job in declared_schedules():
        stored = PeriodicTask.objects.get(name=job.name)
        interval = timedelta(seconds=stored.interval.every) if stored.interval else timedelta(days=1)  # daily crontab
        assert stored.expire_seconds == job.expire_seconds, job.name
        assert 1.4 <= stored.expire_seconds / interval.total_seconds() <= 1.6, job.name


def test_an_expiry_changed_by_hand_is_put_back_by_the_next_sync(db):
    schedules_sync()
    PeriodicTask.objects.filter(name="events.process_pending").update(expire_seconds=None)

    assert schedules_sync()["updated"] == 1
    assert PeriodicTask.objects.get(name="events.process_pending").expire_seconds == 45


def test_every_beat_job_but_the_heartbeat_and_the_nightly_cleanup_is_a_tick():
    housekeeping = {"crm.tasks.record_scheduler_heartbeat", "crm.tasks.clear_expired_sessions"}
    ticks = [job.task for job in declared_schedules() if job.task not in housekeeping]
    assert ticks and all(task.endswith("_tick") for task in ticks)


# --- time limits and queues ---------------------------------------------------------------


def our_tasks() -> dict:
    """Every task the apps define (any new app's tasks too): all but Celery's own."""
    return {name: task for name, task in celery_app.tasks.items() if not name.startswith("celery.")}


def test_every_task_has_a_soft_time_limit_below_its_hard_one():
    assert our_tasks()
    for name, task in our_tasks().items():
        assert task.soft_time_limit and task.time_limit, name
        assert task.soft_time_limit < task.time_limit, name


def test_a_messaging_task_finishes_inside_its_limit_before_its_lease_could_look_stale(settings):
    for name in ("marketing.tasks.sync_due_segment_to_messaging", "marketing.tasks.sync_segment_to_messaging"):
        assert celery_app.tasks[name].time_limit < settings.MESSAGING_SYNC_STALE_SECONDS


def queue_of(task_name: str) -> str:
    return celery_app.amqp.router.route({}, task_name)["queue"].name


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        ("crm.tasks.process_inbound_events", "ingest"),
        ("crm.tasks.pending_events_tick", "ingest"),
        ("marketing.tasks.refresh_segments_for_profiles", "segments"),
        ("marketing.tasks.refresh_segment", "segments"),
        ("marketing.tasks.refresh_due_segment", "segments"),
        ("marketing.tasks.segments_refresh_tick", "segments"),
        ("marketing.tasks.sync_segment_to_messaging", "messaging"),
        ("marketing.tasks.sync_due_segment_to_messaging", "messaging"),
        ("marketing.tasks.messaging_sync_tick", "messaging"),
        ("marketing.tasks.dispatch_due_sends", "sends"),
        ("marketing.tasks.sends_dispatch_tick", "sends"),
        ("crm.tasks.record_scheduler_heartbeat", "default"),
        ("crm.tasks.clear_expired_sessions", "default"),
    ],
)
def test_tasks_are_routed_to_the_queue_of_their_kind_of_work(task_name, queue):
    assert queue_of(task_name) == queue


def test_every_task_goes_to_a_declared_queue(settings):
    declared = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    assert {queue_of(name) for name in our_tasks()} <= declared


# --- the ticks fan out --------------------------------------------------------------------


@pytest.fixture
def runs():
    """Every task that runs (tests run them eagerly, as they are sent): (name, args) in order."""
    seen = []

    def record(sender=None, args=None, **_kwargs):
        seen.append((sender.name, tuple(args or ())))

    task_prerun.connect(record, weak=False)
    yield seen
    task_prerun.disconnect(record)


def runs_of(runs, task_name) -> list[tuple]:
    return [args for name, args in runs if name == task_name]


def store(club, count: int) -> list[int]:
    raw = [envelope("member.created", {"member_id": f"M{index}"}, club=club) for index in range(count)]
    return events_store(club=club, raw_events=raw, transport="test", enqueue=False).accepted_ids


def test_the_events_tick_enqueues_one_task_per_batch_of_due_events_and_none_for_the_rest(
    club_a, club_b, runs, monkeypatch
):
    monkeypatch.setattr(crm_tasks, "EVENTS_BATCH", 2)
    lost = store(club_a, 3) + store(club_b, 2)  # their enqueue was lost
    InboundEvent.objects.unscoped_across_clubs().filter(pk__in=lost).update(received_at=ago(minutes=5))
    just_stored = store(club_a, 1)  # its own task is on its way: inside the grace
    retry_later, retry_now = store(club_a, 2)
    InboundEvent.objects.for_club(club_a).filter(pk__in=[retry_later, retry_now]).update(
        status=InboundEventStatus.FAILED, received_at=ago(hours=1), attempts=1
    )
    InboundEvent.objects.for_club(club_a).filter(pk=retry_later).update(next_attempt_at=ago(seconds=-60))
    InboundEvent.objects.for_club(club_a).filter(pk=retry_now).update(next_attempt_at=ago(seconds=1))

    assert crm_tasks.pending_events_tick() == 3

    batches = runs_of(runs, "crm.tasks.process_inbound_events")
    assert [ids for (ids,) in batches] == [[retry_now, *lost[:1]], lost[1:3], lost[3:]]  # oldest first, by two
    statuses = dict(InboundEvent.objects.unscoped_across_clubs().values_list("pk", "status"))
    assert {statuses[pk] for pk in lost + [retry_now]} == {InboundEventStatus.PROCESSED}
    assert statuses[retry_later] == InboundEventStatus.FAILED
    assert statuses[just_stored[0]] == InboundEventStatus.RECEIVED


def test_an_events_tick_that_runs_twice_applies_each_event_once(club_a, runs):
    lost = store(club_a, 2)
    InboundEvent.objects.for_club(club_a).filter(pk__in=lost).update(received_at=ago(minutes=5))

    crm_tasks.pending_events_tick()
    crm_tasks.process_inbound_events.delay(lost)  # the same batch again, as an overlapping tick sends it

    assert Activity.objects.for_club(club_a).count() == 2
    assert crm_tasks.pending_events_tick() == 0


GOLD = {"field": "tier", "op": "eq", "value": "Gold"}


def test_the_segments_tick_refreshes_each_due_segment_in_its_own_task(club_a, club_b, runs, settings):
    settings.SEGMENTS_REFRESH_MINUTES = 15
    never = SegmentFactory(club=club_a, name="Never refreshed", rule=GOLD)
    overdue = SegmentFactory(club=club_b, name="Overdue", rule=GOLD, last_refreshed_at=ago(minutes=16))
    SegmentFactory(club=club_a, name="Fresh", rule=GOLD, last_refreshed_at=ago(minutes=14))
    SegmentFactory(club=club_a, name="Hand-picked", static=True)

    assert marketing_tasks.segments_refresh_tick() == 2

    assert runs_of(runs, "marketing.tasks.refresh_due_segment") == [(club_a.pk, never.pk), (club_b.pk, overdue.pk)]
    assert set(segments_due_for_refresh().values_list("pk", flat=True)) == set()


def test_a_segment_no_longer_due_when_its_task_runs_is_not_refreshed_again(club_a):
    gold = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    assert marketing_tasks.refresh_due_segment.delay(club_a.pk, gold.pk).get() == 1
    refreshed_at = Segment.objects.for_club(club_a).get(pk=gold.pk).last_refreshed_at

    assert marketing_tasks.refresh_due_segment.delay(club_a.pk, gold.pk).get() == 0  # a tick that ran twice

    assert Segment.objects.for_club(club_a).get(pk=gold.pk).last_refreshed_at == refreshed_at


def test_a_segments_item_refreshes_the_due_segments_it_is_built_on_first_and_only_once(club_a, runs):
    ProfileFactory(club=club_a, membership_tier="Gold", email_opt_in=True)
    base = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    on_top = SegmentFactory(
        club=club_a,
        name="Gold, emailable",
        rule={"all": [{"segment": base.pk}, {"field": "email_opt_in", "op": "eq", "value": True}]},
    )
    Segment.objects.for_club(club_a).filter(pk=on_top.pk).update(last_refreshed_at=None)

    assert marketing_tasks.refresh_due_segment.delay(club_a.pk, on_top.pk).get() == 2  # the base, then itself
    assert marketing_tasks.refresh_due_segment.delay(club_a.pk, base.pk).get() == 0

    assert SegmentMember.objects.for_club(club_a).filter(segment=on_top).count() == 1


def test_another_clubs_segment_id_refreshes_nothing(club_a, club_b):
    theirs = SegmentFactory(club=club_b, name="Gold", rule=GOLD)

    assert marketing_tasks.refresh_due_segment.delay(club_a.pk, theirs.pk).get() == 0
    assert Segment.objects.for_club(club_b).get(pk=theirs.pk).last_refreshed_at is None


def flagged(club, name, **fields) -> Segment:
    return SegmentFactory(club=club, name=name, rule=GOLD, sync_to_messaging=True, **fields)


def test_the_messaging_tick_enqueues_only_flagged_segments_whose_sync_is_due(club_a, settings):
    settings.MESSAGING_SYNC_MINUTES, settings.MESSAGING_SYNC_STALE_SECONDS = 15, 600
    due = [
        flagged(club_a, "Never synced"),
        flagged(club_a, "Synced long ago", sync_status=SyncStatus.SYNCED, last_synced_at=ago(minutes=16)),
        flagged(club_a, "Failed long ago", sync_status=SyncStatus.FAILED, sync_heartbeat_at=ago(minutes=16)),
        flagged(club_a, "Continuation lost", sync_status=SyncStatus.RUNNING, sync_heartbeat_at=None),
        flagged(club_a, "Worker died", sync_status=SyncStatus.RUNNING, sync_heartbeat_at=ago(minutes=11)),
    ]
    flagged(club_a, "Synced just now", sync_status=SyncStatus.SYNCED, last_synced_at=ago(minutes=1))
    flagged(club_a, "Failed just now", sync_status=SyncStatus.FAILED, sync_heartbeat_at=ago(minutes=1))
    flagged(club_a, "Running", sync_status=SyncStatus.RUNNING, sync_heartbeat_at=ago(minutes=1))
    SegmentFactory(club=club_a, name="Not flagged", rule=GOLD)

    assert set(segments_due_for_sync().values_list("pk", flat=True)) == {segment.pk for segment in due}


def test_a_messaging_sync_item_makes_a_bounded_number_of_calls_and_re_enqueues_itself_until_done(
    club_a, runs, messaging_simulator, settings, monkeypatch
):
    settings.MESSAGING_SYNC_BATCH = 2
    monkeypatch.setattr(marketing_tasks, "MESSAGING_SYNC_BATCHES_PER_TASK", 2)
    people = ProfileFactory.create_batch(9, club=club_a, membership_tier="Gold")
    segment = flagged(club_a, "Gold")
    segment_refresh(club=club_a, segment=segment)

    assert marketing_tasks.messaging_sync_tick() == 1

    items = runs_of(runs, "marketing.tasks.sync_due_segment_to_messaging")
    assert items == [(club_a.pk, segment.pk)] * 3  # two calls, two calls, the last one
    adds = messaging_simulator.requests(method="POST", path_suffix="/members")
    assert [len(request["body"]["contacts"]) for request in adds] == [2, 2, 2, 2, 1]
    segment.refresh_from_db()
    assert segment.sync_status == SyncStatus.SYNCED and segment.sync_heartbeat_at is None
    listed = MessagingListEntry.objects.for_club(club_a).filter(segment=segment)
    assert sorted(listed.values_list("profile_id", flat=True)) == sorted(person.pk for person in people)
    assert marketing_tasks.messaging_sync_tick() == 0  # synced: not due again for MESSAGING_SYNC_MINUTES


def test_a_messaging_sync_item_sent_twice_syncs_once(club_a, messaging_simulator):
    ProfileFactory(club=club_a, membership_tier="Gold")
    segment = flagged(club_a, "Gold")
    segment_refresh(club=club_a, segment=segment)

    assert marketing_tasks.sync_due_segment_to_messaging.delay(club_a.pk, segment.pk).get() == SyncStatus.SYNCED
    assert marketing_tasks.sync_due_segment_to_messaging.delay(club_a.pk, segment.pk).get() == "not due"

    assert len(messaging_simulator.requests(method="POST", path_suffix="/members")) == 1


@pytest.mark.parametrize(
    "task_name, refusal",
    [("sync_due_segment_to_messaging", "not due"), ("sync_segment_to_messaging", "not flagged for sync")],
)
def test_another_clubs_segment_id_syncs_nothing(club_a, club_b, messaging_simulator, task_name, refusal):
    ProfileFactory(club=club_b, membership_tier="Gold")
    theirs = flagged(club_b, "Gold")
    segment_refresh(club=club_b, segment=theirs)
    task = getattr(marketing_tasks, task_name)

    assert task.delay(club_a.pk, theirs.pk).get() == refusal
    assert task.delay(club_a.pk + club_b.pk + 1000, theirs.pk).get() == refusal  # a club that is gone

    assert messaging_simulator.requests() == []
    assert Segment.objects.for_club(club_b).get(pk=theirs.pk).sync_status == SyncStatus.NEVER


def test_a_failed_sync_is_retried_by_the_tick_an_interval_after_it_failed(club_a, messaging_simulator, settings):
    settings.MESSAGING_SYNC_MINUTES = 15
    ProfileFactory(club=club_a, membership_tier="Gold")
    segment = flagged(club_a, "Gold")
    segment_refresh(club=club_a, segment=segment)
    messaging_simulator.fail(mode="500", times=100, method="POST", path_prefix="/v1/lists")

    marketing_tasks.messaging_sync_tick()
    segment.refresh_from_db()
    assert segment.sync_status == SyncStatus.FAILED
    assert marketing_tasks.messaging_sync_tick() == 0  # not on every tick while Messaging is down

    messaging_simulator.stop_failing()
    Segment.objects.for_club(club_a).filter(pk=segment.pk).update(sync_heartbeat_at=ago(minutes=16))
    assert marketing_tasks.messaging_sync_tick() == 1
    segment.refresh_from_db()
    assert segment.sync_status == SyncStatus.SYNCED
