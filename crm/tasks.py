"""Celery tasks of crm: they take ids, call one service, and say their time limits.

Routes (which queue each task goes to) are in settings (CELERY_TASK_ROUTES); the ticks (beat jobs
of config/schedules.py) follow the pattern in crm/kernel/tasks.py.
"""

from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from crm.events.processing import events_due, events_process, events_record_out_of_time
from crm.kernel.tasks import RETRY_ON_DATABASE_ERRORS, TICK_TIME_LIMITS, fan_out
from crm.models import SchedulerHeartbeat


@shared_task(soft_time_limit=30, time_limit=60)
def record_scheduler_heartbeat() -> None:
    """Beat → worker → database round trip; the dashboard shows how long ago it last ran."""
    now = timezone.now()
    updated = SchedulerHeartbeat.objects.filter(name="scheduler").update(last_run_at=now, run_count=F("run_count") + 1)
    if not updated:
        SchedulerHeartbeat.objects.get_or_create(name="scheduler", defaults={"last_run_at": now, "run_count": 1})


@shared_task(soft_time_limit=600, time_limit=660)  # one DELETE of expired rows; a big table takes a while
def clear_expired_sessions() -> None:
    call_command("clearsessions")


# Pending events per processing task the tick enqueues.
EVENTS_BATCH = 1000
# How many pending events one tick enqueues (every 30 s): a backlog drains at this rate per tick
# at most, so a tick never floods the queue with work the workers cannot start before the next.
EVENTS_TICK_LIMIT = 20 * EVENTS_BATCH
# A received event younger than this still has its own task on the way; the tick leaves it be.
EVENTS_TICK_GRACE = timedelta(minutes=1)


@shared_task(soft_time_limit=120, time_limit=180, **RETRY_ON_DATABASE_ERRORS)
def process_inbound_events(event_ids: list[int]) -> dict:
    """Apply a batch of stored events (one push, or EVENTS_BATCH from the tick: about a second,
    longer only when a bad event sends the batch one by one). Deadlocks and lost connections retry
    with backoff.

    Out of time, a batch is split in two tasks (each with its own time), so a slow event ends up
    alone; an event alone that runs out of time is recorded as failed (backoff, then parked), so
    it can't come back with every tick and hold a worker forever."""
    try:
        summary = events_process(event_ids=event_ids)
    except SoftTimeLimitExceeded:
        if len(event_ids) > 1:
            middle = len(event_ids) // 2
            process_inbound_events.delay(event_ids[:middle])
            process_inbound_events.delay(event_ids[middle:])
            return {"processed": 0, "rejected": 0, "failed": 0, "split": 2}
        return {"processed": 0, "rejected": 0, "failed": events_record_out_of_time(event_ids=event_ids)}
    return {"processed": summary.processed, "rejected": summary.rejected, "failed": summary.failed}


@shared_task(**TICK_TIME_LIMITS)
def pending_events_tick() -> int:
    """Beat tick: enqueue one processing task per EVENTS_BATCH events still waiting (a lost
    enqueue, a failed event whose retry time has come), oldest first; returns the tasks enqueued.

    Race: a tick that runs twice, or overlaps a batch still being processed, enqueues the same ids
    again. That costs one query: processing locks its events with SKIP LOCKED and takes only those
    still pending, so an event is applied once (its status changes with its effects).
    """
    now = timezone.now()
    ids = list(events_due(now=now, received_before=now - EVENTS_TICK_GRACE)[:EVENTS_TICK_LIMIT])
    batches = [(ids[start : start + EVENTS_BATCH],) for start in range(0, len(ids), EVENTS_BATCH)]
    return fan_out(process_inbound_events, batches)
