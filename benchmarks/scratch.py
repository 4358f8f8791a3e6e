"""A database of the benchmark's own, created before and dropped after (never yours, never the tests')."""

import contextlib
from pathlib import Path

from django.db import connection, connections


@contextlib.contextmanager
def scratch_database(name: str, *, keep: bool = False):
    """`<DATABASE NAME>_bench_<name>` on PostgreSQL, `var/bench-<name>.sqlite3` on SQLite."""
    settings = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor == "sqlite":
        settings["NAME"] = str(Path(__file__).resolve().parent.parent / "var" / f"bench-{name}.sqlite3")
    else:
        settings["NAME"] = f"{connection.settings_dict['NAME']}_bench_{name}"
    original = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield
    finally:
        connections.close_all()
        if not keep:
            connection.creation.destroy_test_db(original, verbosity=0)
