"""Every periodic job, declared once. `schedules_sync()` upserts them into django-celery-beat by name.

An admin's toggle (enabled/disabled) survives a deploy: only the task, timing and arguments are
rewritten; `enabled` is set on creation alone. Jobs no longer declared here are disabled, not
deleted, so their run history stays visible.

Every job expires: a run that no worker has started within about 1.5 intervals is dropped, not
run late. A tick missed while the workers were down or backed up is made up by the next one,
whereas a pile of stale ticks would each enqueue the same due work again once workers return.
"""

import json
import math
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    task: str
    why: str
    every: timedelta | None = None
    crontab: str | None = None  # "minute hour day_of_month month_of_year day_of_week", UTC
    kwargs: dict = field(default_factory=dict)
    expires_after: timedelta | None = None  # required for a crontab; 1.5 x `every` otherwise

    @property
    def expire_seconds(self) -> int:
        expires_after = self.expires_after or self.every * 1.5
        return math.ceil(expires_after.total_seconds())


def declared_schedules() -> list[ScheduledJob]:
    return [
        ScheduledJob(
            name="system.scheduler_heartbeat",
            task="crm.tasks.record_scheduler_heartbeat",
            every=timedelta(seconds=settings.FAIRWAY_HEARTBEAT_SECONDS),
            why="Shows staff and operators that scheduled work is running (dashboard, health check).",
        ),
        # The four ticks below only select what is due and enqueue one task per item (see the
        # tasks' docstrings). They run often because selecting is cheap and it spreads the work:
        # each segment comes due SEGMENTS_REFRESH_MINUTES after its own last refresh.
        ScheduledJob(
            name="events.process_pending",
            task="crm.tasks.pending_events_tick",
            every=timedelta(seconds=30),
            why="Picks up stored events whose processing task was lost, and retries failed ones on backoff.",
        ),
        ScheduledJob(
            name="segments.refresh_all",
            task="marketing.tasks.segments_refresh_tick",
            every=timedelta(minutes=1),
            why="Relative-date rules (birthdays, 'in the last 30 days') move with the calendar, not only events: "
            "each rule-based segment is fully refreshed SEGMENTS_REFRESH_MINUTES after its last full refresh.",
        ),
        ScheduledJob(
            name="segments.sync_to_messaging",
            task="marketing.tasks.messaging_sync_tick",
            every=timedelta(minutes=1),
            why="Flagged segments' Messaging lists follow their membership, each synced MESSAGING_SYNC_MINUTES "
            "after its last sync; a failed sync resumes as long after it failed.",
        ),
        ScheduledJob(
            name="sends.dispatch_due",
            task="marketing.tasks.sends_dispatch_tick",
            every=timedelta(minutes=1),
            why="Campaign and journey messages go out through the send ledger: new sends, sends whose quiet hours "
            "have ended, and sends a dead dispatcher left claimed are sent, each source in its own task.",
        ),
        ScheduledJob(
            name="system.clear_expired_sessions",
            task="crm.tasks.clear_expired_sessions",
            crontab="17 3 * * *",
            expires_after=timedelta(hours=36),  # 1.5 days, as for any job: workers down overnight still run it
            why="Expired staff sessions would otherwise accumulate forever in the session table.",
        ),
    ]


def schedules_sync() -> dict[str, int]:
    """Upsert declared jobs by name; disable managed jobs that are no longer declared."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = updated = disabled = 0
    jobs = declared_schedules()
    with transaction.atomic():
        for job in jobs:
            timing = {"interval": None, "crontab": None}
            if job.every is not None:
                timing["interval"], _ = IntervalSchedule.objects.get_or_create(
                    every=int(job.every.total_seconds()), period=IntervalSchedule.SECONDS
                )
            else:
                minute, hour, day_of_month, month_of_year, day_of_week = job.crontab.split()
                timing["crontab"], _ = CrontabSchedule.objects.get_or_create(
                    minute=minute,
                    hour=hour,
                    day_of_month=day_of_month,
                    month_of_year=month_of_year,
                    day_of_week=day_of_week,
                    timezone="UTC",
                )
            defaults = {
                "task": job.task,
                "kwargs": json.dumps(job.kwargs),
                "description": f"[managed by config/schedules.py] {job.why}",
                "expire_seconds": job.expire_seconds,
                **timing,
            }
            task, was_created = PeriodicTask.objects.get_or_create(name=job.name, defaults=defaults)
            if was_created:
                created += 1
                continue
            changed = [key for key, value in defaults.items() if getattr(task, key) != value]
            if changed:
                for key in changed:
                    setattr(task, key, defaults[key])
                task.save()
                updated += 1
        stale = PeriodicTask.objects.filter(
            description__startswith="[managed by config/schedules.py]", enabled=True
        ).exclude(name__in=[job.name for job in jobs])
        for task in stale:
            task.enabled = False
            task.save()
            disabled += 1
    return {"created": created, "updated": updated, "disabled": disabled}
