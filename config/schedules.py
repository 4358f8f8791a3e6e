"""Every periodic job, declared once. `schedules_sync()` upserts them into django-celery-beat by name.

An admin's toggle (enabled/disabled) survives a deploy: only the task, timing and arguments are
rewritten; `enabled` is set on creation alone. Jobs no longer declared here are disabled, not
deleted, so their run history stays visible.
"""

import json
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


def declared_schedules() -> list[ScheduledJob]:
    return [
        ScheduledJob(
            name="system.scheduler_heartbeat",
            task="crm.tasks.record_scheduler_heartbeat",
            every=timedelta(seconds=settings.FAIRWAY_HEARTBEAT_SECONDS),
            why="Shows staff and operators that scheduled work is running (dashboard, health check).",
        ),
        ScheduledJob(
            name="events.process_pending",
            task="crm.tasks.process_pending_inbound_events",
            every=timedelta(seconds=30),
            why="Picks up stored events whose processing task was lost, and retries failed ones on backoff.",
        ),
        ScheduledJob(
            name="segments.refresh_all",
            task="marketing.tasks.refresh_all_segments",
            every=timedelta(minutes=settings.SEGMENTS_REFRESH_MINUTES),
            why="Relative-date rules (birthdays, 'in the last 30 days') move with the calendar, not only events.",
        ),
        ScheduledJob(
            name="segments.sync_to_messaging",
            task="marketing.tasks.sync_segments_to_messaging",
            every=timedelta(minutes=settings.MESSAGING_SYNC_MINUTES),
            why="Flagged segments' Messaging lists follow their membership; a failed sync resumes on the next run.",
        ),
        ScheduledJob(
            name="system.clear_expired_sessions",
            task="crm.tasks.clear_expired_sessions",
            crontab="17 3 * * *",
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
