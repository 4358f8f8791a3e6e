"""Advisory locks for races that no row exists yet to lock (e.g. "create this person once")."""

import contextlib
import hashlib
import threading
from collections.abc import Iterable

from django.db import connection


def lock_key(namespace: str, value: str) -> int:
    digest = hashlib.blake2b(f"{namespace}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


_state = threading.local()


@contextlib.contextmanager
def advisory_locks_skipped():
    """For a transaction that will be rolled back whole (a dry run): nothing it writes can race.

    Transaction-scoped advisory locks live until commit, so a long dry run would otherwise pile
    up one lock per key in PostgreSQL's shared lock table.
    """
    _state.skip = True
    try:
        yield
    finally:
        _state.skip = False


def advisory_xact_lock(namespace: str, values: Iterable[str]) -> None:
    """Take transaction-scoped advisory locks on every value, in one sorted order (no deadlocks).

    PostgreSQL only. SQLite needs none: every write transaction starts with BEGIN IMMEDIATE
    (see settings), so writers are already serialised.
    """
    if connection.vendor != "postgresql" or getattr(_state, "skip", False):
        return
    keys = sorted({lock_key(namespace, value) for value in values})
    if keys:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k", [keys])
