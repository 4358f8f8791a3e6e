"""A lease on one row that has a status and a heartbeat: at most one worker does that row's work.

For work that spans external calls (a Messaging sync, a campaign send, a journey step, a social
post), where a row lock held across the HTTP calls would keep a transaction open for minutes (and
on SQLite block every writer meanwhile). The claim is one conditional UPDATE; the heartbeat it
writes doubles as the holder's token, so every later write checks the row is still ours. A
heartbeat older than `stale_after` means the holder died (a killed worker), and the lease may be
taken over; the old holder notices at its next `renew()` (LeaseLost) and stops writing.

    lease = lease_claim(Segment.objects.for_club(club).filter(pk=segment.pk),
                        status_field="sync_status", heartbeat_field="sync_heartbeat_at",
                        running=SyncStatus.RUNNING, stale_after=timedelta(minutes=10))
    if lease is None:
        return  # another worker holds it
    try:
        for batch in work:
            push(batch)              # the external call, outside any transaction
            with transaction.atomic():
                record(batch)
                lease.renew()        # LeaseLost rolls the record back: the new holder replays it
    except LeaseLost:
        return                       # the new holder finishes; write nothing more
    lease.release(sync_status=SyncStatus.SYNCED)

Renew at least every `stale_after`: a holder that is alive but silent for longer is taken over.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone


class LeaseLost(Exception):
    """Another worker took the lease over (ours went stale); the holder must stop writing."""


@dataclass
class Lease:
    row: QuerySet  # the one leased row, already scoped (club) and filtered by its primary key
    heartbeat_field: str
    token: datetime  # the heartbeat we last wrote; it is ours while the row still holds it

    def held(self) -> QuerySet:
        """The row, if and only if this lease still holds it: every write of the holder goes
        through this filter, so a worker that was taken over writes nothing."""
        return self.row.filter(**{self.heartbeat_field: self.token})

    def renew(self, *, now: datetime | None = None) -> None:
        """Move the heartbeat on; raise LeaseLost if the lease was taken over. Inside the
        transaction that records a step's result, so a lost lease rolls that record back."""
        now = now or timezone.now()
        if now <= self.token:  # a clock that did not move would leave an identical token
            now = self.token + timedelta(microseconds=1)
        if not self.held().update(**{self.heartbeat_field: now}):
            raise LeaseLost
        self.token = now

    def release(self, **fields) -> bool:
        """End the lease, writing `fields` (the outcome: a status, an error, a finish time) with it.
        The heartbeat is cleared unless `fields` sets it. False, writing nothing, if it was taken over."""
        fields.setdefault(self.heartbeat_field, None)
        return bool(self.held().update(**fields))


def lease_free(*, status_field: str, heartbeat_field: str, running: str, stale_after: timedelta, now: datetime) -> Q:
    """The rows whose lease `lease_claim` may take now: not running, or running with no heartbeat
    (released to be continued by another task), or with one older than `stale_after` (its holder
    died). For a tick's selector, so what it calls due is exactly what its item task can claim."""
    return (
        ~Q(**{status_field: running})
        | Q(**{f"{heartbeat_field}__isnull": True})
        | Q(**{f"{heartbeat_field}__lt": now - stale_after})
    )


def lease_claim(
    row: QuerySet,
    *,
    status_field: str,
    heartbeat_field: str,
    running: str,
    stale_after: timedelta,
    now: datetime | None = None,
) -> Lease | None:
    """Claim the row for this worker (status `running`, heartbeat now), or None if a live holder has it.

    Free means: not running, or running with no heartbeat (its holder released it to be continued
    by another task), or running with a heartbeat older than `stale_after` (its holder died). One
    conditional UPDATE: two workers claiming at once both run it, and the database lets exactly one
    match (PostgreSQL re-reads the row after the first commits; SQLite runs writers one at a time).
    """
    now = now or timezone.now()
    free = lease_free(
        status_field=status_field, heartbeat_field=heartbeat_field, running=running, stale_after=stale_after, now=now
    )
    claimed = row.filter(free).update(**{status_field: running, heartbeat_field: now})
    return Lease(row=row, heartbeat_field=heartbeat_field, token=now) if claimed else None
