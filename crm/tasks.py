from celery import shared_task
from django.core.management import call_command
from django.db import OperationalError
from django.db.models import F
from django.utils import timezone

from crm.events.processing import events_process, events_process_pending
from crm.models import SchedulerHeartbeat


@shared_task
def record_scheduler_heartbeat() -> None:
    """Beat → worker → database round trip; the dashboard shows how long ago it last ran."""
    now = timezone.now()
    updated = SchedulerHeartbeat.objects.filter(name="scheduler").update(last_run_at=now, run_count=F("run_count") + 1)
    if not updated:
        SchedulerHeartbeat.objects.get_or_create(name="scheduler", defaults={"last_run_at": now, "run_count": 1})


@shared_task
def clear_expired_sessions() -> None:
    call_command("clearsessions")


# Tasks whose database work may meet a passing failure (a deadlock, a lost connection) retry it
# with growing, jittered waits; their work is idempotent, so a retry repeats nothing.
RETRY_ON_DATABASE_ERRORS = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(**RETRY_ON_DATABASE_ERRORS)
def process_inbound_events(event_ids: list[int]) -> dict:
    """Apply a batch of stored events. Deadlocks and lost connections retry with backoff."""
    summary = events_process(event_ids=event_ids)
    return {"processed": summary.processed, "rejected": summary.rejected, "failed": summary.failed}


@shared_task
def process_pending_inbound_events() -> None:
    """Beat sweeper: events whose enqueue was lost, and failed events whose retry time has come."""
    events_process_pending()
