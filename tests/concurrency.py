"""Real concurrency in tests (PostgreSQL: SQLite runs one writer at a time, so nothing races there)."""

import threading

from django.db import connection


def in_threads(count: int, work, *, timeout: float = 60) -> list:
    """Run `work()` in `count` threads, each on its own database connection, started together;
    returns their results in thread order, and fails with every thread's exception if any raised
    (a thread's exception is otherwise lost)."""
    start, results, errors = threading.Barrier(count), [None] * count, []

    def run(index):
        try:
            start.wait(timeout=10)
            results[index] = work()
        except Exception as error:  # surfaced below, with the others' results
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not errors, errors
    return results
