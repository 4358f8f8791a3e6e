"""What every app's Celery tasks share: retrying passing database failures, and the tick pattern.

A beat job is a **tick**: it only selects what is due (bounded, oldest first) and enqueues one
bounded task per item with `fan_out`; the item task re-checks that its item is still due (or
claims it: SKIP LOCKED, a lease from crm/kernel/leases.py) before it works, does one bounded
batch, and re-enqueues itself while work remains. So a tick that runs twice, or overlaps a slow
item, sends an item twice at worst and the second copy finds nothing to do. Ticks are routed to
the queue of the work they enqueue and expire (config/schedules.py): behind a backlog a tick
waits there and is dropped, instead of adding the same due items again.
"""

from collections.abc import Iterable

from django.db import OperationalError

# Tasks whose database work may meet a passing failure (a deadlock, a lost connection) retry it
# with growing, jittered waits; their work is idempotent, so a retry repeats nothing.
RETRY_ON_DATABASE_ERRORS = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 8,
}

# Seconds (soft, hard) for a tick: a few bounded selects and some enqueues. The soft limit raises
# inside a task so it can record how far it got; the hard one kills the worker's child process.
# (The solo pool of `make run` enforces neither.)
TICK_TIME_LIMITS = {"soft_time_limit": 30, "time_limit": 60}


def fan_out(task, items: Iterable[tuple]) -> int:
    """Enqueue `task(*item)` for each item; how many. Call it outside any transaction (a tick
    writes nothing its items must wait for), or wrap it in `transaction.on_commit` if it does."""
    count = 0
    for item in items:
        task.delay(*item)
        count += 1
    return count
