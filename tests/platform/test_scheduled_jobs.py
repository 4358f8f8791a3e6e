"""Scheduled work really runs: beat (database scheduler) → broker → a real worker → the database."""

import os
import time

import pytest
from django_celery_beat.models import PeriodicTask

from config.schedules import declared_schedules, schedules_sync
from crm.models import SchedulerHeartbeat
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


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_periodic_job_runs_under_the_embedded_default(tmp_path):
    """No Redis: the filesystem broker and an embedded beat, exactly as `make run` starts them."""
    env = child_environment(
        DATABASE_URL=database_url_for_children(),
        REDIS_URL="",
        CELERY_BROKER_URL="filesystem://",
        CELERY_BROKER_FOLDER=tmp_path / "broker",
        FAIRWAY_HEARTBEAT_SECONDS=1,
    )
    worker = start_worker(env=env, log_path=tmp_path / "worker.log")
    try:
        runs = wait_for_heartbeats(2, timeout=90)
    finally:
        stop(worker)
    assert runs >= 2, (tmp_path / "worker.log").read_text()[-3000:]
    # Beat upserted the declared schedule on start; nobody had to run sync_schedules first.
    assert PeriodicTask.objects.get(name="system.scheduler_heartbeat").interval.every == 1


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
