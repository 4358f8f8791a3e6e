"""Helpers for tests that start real processes (Celery workers, manage.py) against the test database."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def database_url_for_children() -> str:
    """A DATABASE_URL for the database the current test is using (the test database, not the real one)."""
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{settings.get('HOST') or '127.0.0.1'}:{settings.get('PORT') or 5432}/{settings['NAME']}"


def child_environment(**overrides) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.local", "PYTHONPATH": str(PROJECT_ROOT)})
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_worker(
    *, env: dict[str, str], log_path: Path, beat: bool = True, queues: list[str] | None = None
) -> subprocess.Popen:
    """A real Celery worker (solo pool, as `make run` starts it) consuming `queues`, by default
    every declared queue, so any task a test sends is picked up wherever it is routed."""
    queues = queues or [queue.name for queue in settings.CELERY_TASK_QUEUES]
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        f"--queues={','.join(queues)}",
    ]
    if beat:
        command += ["--beat", f"--schedule={log_path.parent / 'beat-schedule'}"]
    log = log_path.open("w")
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
