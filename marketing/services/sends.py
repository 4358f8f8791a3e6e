"""The send ledger (SPEC 9, 10): the one way anything is sent to Messaging.

A campaign run or a journey step (the *source*) first enqueues its recipients: one `MessageSend`
row per (source, channel, profile), unique, written before Messaging hears of it. A dispatcher
then claims due rows in small batches and sends each batch with one call, every recipient under
the key its row derives (`send_idempotency_key`), and marks a row sent only when Messaging has
acknowledged it — accepted, or a duplicate of that same key, which means an earlier attempt got
through and only its answer was lost. So a retry after a timeout, a second dispatcher, or a
dispatcher restarted after a crash never sends anyone twice, and nobody is lost.

Whether a row may go is decided here and only here, in SQL over the rows (never a loop over
profiles), both when it is enqueued and again when it is claimed, since consent, suppressions and
erasure can change in between:

- erased or merged-away profiles, a person the source already reached under a profile since
  merged into this one, no opt-in for the channel (the CRM's copy of Messaging's consent, SPEC 1),
  a suppression of the profile (or of one merged into it) or of its address, or no address for the
  channel → skipped, with the reason;
- the club's frequency cap: N messages per channel per rolling D days, counting what was sent from
  any source, and what other dispatchers have claimed and not yet answered for → skipped;
- the club's quiet hours (its local time) → deferred until they end, then sent like any other.

Locking: rows are claimed with `SELECT … FOR UPDATE SKIP LOCKED` in a short transaction that
stamps `claimed_until`; no lock is held across the HTTP call. With a frequency cap, claims of the
same club and channel also take an advisory lock, so two dispatchers can't both see room for the
last message a profile may get.
"""

import logging
import operator
import zoneinfo
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial, reduce

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, Exists, F, IntegerField, Min, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.errors import require_in_club
from crm.identity.identifiers import IdentifierKind, identifier_normalise
from crm.kernel.actor import Actor
from crm.kernel.leases import Lease, LeaseLost, lease_claim, lease_free
from crm.kernel.locks import advisory_xact_lock
from crm.models import AuditAction
from crm.services.audit import audit_record
from crm.services.merges import live_profile_ids
from marketing.errors import MarketingError, MarketingErrorCode
from marketing.messaging.client import MessagingClient, MessagingRejected, MessagingUnavailable
from marketing.models import (
    MessageContent,
    MessageSend,
    SendChannel,
    SendDispatch,
    SendDispatchStatus,
    SendPolicy,
    SendSkipReason,
    SendSourceKind,
    SendStatus,
    Suppression,
    SuppressionReason,
)
from marketing.models.sends import OPEN_SEND_STATUSES, send_idempotency_key
from marketing.services.messaging_batches import (
    batches_by_profile,
    idempotency_key,
    messaging_contact,
    messaging_contact_id,
)

logger = logging.getLogger(__name__)

# Profiles written per enqueue statement: bounded so one enqueue of a 20k audience is a few
# statements with a bounded parameter list each.
ENQUEUE_CHUNK = 2000
# The profile field holding a channel's address; push goes to the app, which needs none.
ADDRESS_FIELDS = {
    SendChannel.EMAIL: "profile__primary_email",
    SendChannel.SMS: "profile__primary_phone",
    SendChannel.WHATSAPP: "profile__primary_phone",
}
# A row Messaging never answers for (down, or timing out after the client's retries) is due again
# after a backoff doubling from 30 s with each attempt, capped at an hour, and failed after
# MAX_SEND_ATTEMPTS: the attempts span an hour (30 s … 32 min), which rides out an outage, where
# retrying at once would keep the source first in the tick's oldest-first order for as long as
# Messaging is down, and retrying forever would overflow `attempts`.
MAX_SEND_ATTEMPTS = 8
SEND_RETRY_BACKOFF_SECONDS = 30
SEND_RETRY_BACKOFF_MAX_SECONDS = 3600
# A source's dispatch lease is stale after the dispatch task's hard time limit (marketing/tasks.py
# takes its limit from here): each task of a chain renews the lease as it starts and is killed by
# then, so an older heartbeat is a chain that died, and the tick may start another.
SEND_DISPATCH_STALE_AFTER = timedelta(seconds=540)
# The lease on a source's SendDispatch row: claimed by its chain's first task, handed on by token.
_DISPATCH_LEASE = {
    "status_field": "status",
    "heartbeat_field": "heartbeat_at",
    "running": SendDispatchStatus.RUNNING,
    "stale_after": SEND_DISPATCH_STALE_AFTER,
}


@dataclass(frozen=True)
class SendSource:
    """What a send belongs to: a campaign run, or a journey step (its run per enrolment, when
    re-entry lets one profile pass the same step twice)."""

    kind: str  # a SendSourceKind
    id: int

    @classmethod
    def campaign_run(cls, run_id: int) -> "SendSource":
        return cls(SendSourceKind.CAMPAIGN_RUN, run_id)

    @classmethod
    def journey_step(cls, step_id: int) -> "SendSource":
        return cls(SendSourceKind.JOURNEY_STEP, step_id)


@dataclass(frozen=True)
class EnqueueResult:
    """Where the requested profiles' rows stand after an enqueue (a repeated enqueue reports the
    rows the first one wrote; `created` counts only the new ones). Another club's profile ids get
    no row and are not counted; a merged-away id is counted as its survivor's row."""

    created: int = 0
    pending: int = 0
    deferred: int = 0
    sent: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # SendSkipReason → rows


@dataclass(frozen=True)
class DispatchResult:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    # The run stopped at its `max_batches` with due rows left: its caller runs it again.
    more_to_do: bool = False
    # Messaging could not be reached: the run stopped, the unanswered rows stay pending (due again
    # after a backoff, or failed after MAX_SEND_ATTEMPTS) and a later run sends them under the same keys.
    unavailable: bool = False
    error: str = ""
    # `sends_dispatch_leased` with more to do: the source's lease, still held, for the continuation.
    lease_token: str = ""


def sends_enqueue(
    *,
    club,
    source: SendSource,
    channel: str,
    profile_ids,
    template_id: str = "",
    subject: str = "",
    body: str = "",
    variables: dict | None = None,
    now: datetime | None = None,
) -> EnqueueResult:
    """Write a pending row per profile for `source` on `channel`, then apply every rule to them.

    The content (a Messaging template id with variables, or a subject and body) is stored once per
    source and channel; enqueueing more profiles later must pass the same content. Profiles of
    another club are ignored; a merged-away profile stands for the survivor it was merged into; a
    profile already enqueued for this source keeps its row (and its status).
    Side effects: writes `MessageContent` and `MessageSend` rows; sends nothing.
    Raises MarketingError for what a marketer's campaign or journey can get wrong (a channel that
    isn't one, no content, content other than what the source already sends) and ValueError for a
    source kind that isn't one, which only code builds (`SendSource.campaign_run`, `.journey_step`).
    """
    if channel not in SendChannel.values:
        raise MarketingError(
            MarketingErrorCode.INVALID_SEND, f"{channel!r} is not a channel.", {"channel": SendChannel.values}
        )
    if source.kind not in SendSourceKind.values:
        raise ValueError(f"{source.kind!r} is not a send source.")
    if not template_id and not body:
        raise MarketingError(MarketingErrorCode.INVALID_SEND, "A send needs a Messaging template id, or a body.")
    now = now or timezone.now()
    policy = _policy(club)
    wanted = {
        "template_id": template_id,
        "subject": subject,
        "body": body,
        "variables": variables or {},
    }
    content, _ = MessageContent.objects.for_club(club).get_or_create(
        club=club, source_kind=source.kind, source_id=source.id, channel=channel, defaults=wanted
    )
    if {name: getattr(content, name) for name in wanted} != wanted:
        raise MarketingError(
            MarketingErrorCode.SEND_CONTENT_FIXED,
            f"This {source.kind.replace('_', ' ')} already sends other content on {channel}; "
            "a source's content is fixed once its first recipients are enqueued.",
        )
    # A merged-away id stands for its survivor, so one source reaches a merged person once.
    requested = live_profile_ids(club, profile_ids, chunk=ENQUEUE_CHUNK)
    created, standing = 0, Counter()
    for start in range(0, len(requested), ENQUEUE_CHUNK):
        chunk = requested[start : start + ENQUEUE_CHUNK]
        with transaction.atomic():
            # Two enqueues of the source at once (a retried task, two workers) take turns, so each
            # `created` counts only the rows its own insert wrote: unserialised, the second insert
            # waits out the first's conflicting rows and both counts after see them as new.
            advisory_xact_lock("message-send-enqueue", [f"{club.pk}:{source.kind}:{source.id}:{channel}"])
            rows = _source_rows(club, source, channel).filter(profile_id__in=chunk)
            before = rows.count()
            MessageSend.objects.for_club(club).bulk_create(
                [
                    MessageSend(
                        club=club,
                        source_kind=source.kind,
                        source_id=source.id,
                        channel=channel,
                        profile_id=profile_id,
                        due_at=now,
                        created_at=now,
                    )
                    for profile_id in chunk
                ],
                ignore_conflicts=True,  # enqueued before (a retried enqueue, or another worker)
            )
            created += rows.count() - before
            # A row a dispatcher has claimed is that dispatcher's to settle.
            _apply_rules(club, rows.filter(~_claimed(now)), source=source, channel=channel, policy=policy, now=now)
            for row in rows.values("status", "skip_reason").annotate(rows=Count("pk")).order_by():
                standing[(row["status"], row["skip_reason"])] += row["rows"]
    return EnqueueResult(
        created=created,
        skipped={reason: n for (status, reason), n in standing.items() if status == SendStatus.SKIPPED},
        **{
            status: sum(n for (row_status, _), n in standing.items() if row_status == status)
            for status in (SendStatus.PENDING, SendStatus.DEFERRED, SendStatus.SENT, SendStatus.FAILED)
        },
    )


def sends_dispatch(
    *,
    club,
    source: SendSource,
    batch_size: int | None = None,
    max_batches: int | None = None,
    client: MessagingClient | None = None,
    clock: Callable[[], datetime] = timezone.now,
) -> DispatchResult:
    """Send the source's due rows to Messaging, batch by batch, smallest profile id first; at most
    `max_batches` claimed batches (of all its channels), then `more_to_do` says whether due rows
    are left for another run.

    Each batch is claimed in its own short transaction (skip-locked, so concurrent dispatchers of
    one source share the work), re-checked against every rule, sent with one call, and its rows
    marked by Messaging's answer: sent (accepted or duplicate of the same key), failed (rejected,
    with the reason). A Messaging outage ends the run with the batch's rows pending again, due after
    a backoff on their attempts (failed after MAX_SEND_ATTEMPTS, see `_no_answer`); a crash
    leaves them claimed until `MESSAGING_SEND_CLAIM_SECONDS` pass, then they are sent under the
    same keys. Inside quiet hours nothing is sent: the due rows are deferred to their end.

    A run of many batches takes minutes, so `clock` is read afresh for each batch — its claim, its
    rules (quiet hours that begin mid-run stop it) and its `sent_at` — never once for the run.
    """
    batch_size = min(batch_size or settings.MESSAGING_SEND_BATCH, 1000)
    policy = _policy(club)
    progress = _Progress()
    claims = 0
    contents = MessageContent.objects.for_club(club).filter(source_kind=source.kind, source_id=source.id)
    for content in contents.order_by("channel"):
        rows = _source_rows(club, source, content.channel)

        def claimable(rows=rows):
            # skip_locked: rows another dispatcher is claiming this instant are theirs; wait for nobody.
            return rows.filter(_due(clock())).select_for_update(skip_locked=True).values("id", "profile_id")

        client = client or MessagingClient.from_settings()
        claim = partial(_claim, club, content, policy, clock, progress)
        for claimed in batches_by_profile(claimable, batch_size, take=claim):
            claims += 1
            try:
                _send_batch(club, content, [row["id"] for row in claimed], client, clock, progress)
            except MessagingUnavailable as error:
                logger.warning("%s (club %s): Messaging unavailable, resuming later: %s", source, club.pk, error)
                return progress.result(unavailable=True, error=str(error))
            if claims == max_batches:
                due_anywhere = MessageSend.objects.for_club(club).filter(source_kind=source.kind, source_id=source.id)
                return progress.result(more_to_do=due_anywhere.filter(_due(clock())).exists())
    return progress.result()


def sends_dispatch_leased(
    *,
    club,
    source: SendSource,
    lease_token: str = "",
    max_batches: int,
    client: MessagingClient | None = None,
) -> DispatchResult | None:
    """`sends_dispatch` by the one chain of runs holding the source's dispatch lease; None, sending
    nothing, if another chain holds it. With `more_to_do` the lease stays held and the result's
    `lease_token` hands it to the continuation, which passes it back; otherwise it is released.

    Why a lease: between a chain's batches none of the source's rows is claimed, so the tick finds
    the source due every minute it is still sending. Without a lease each tick started one more
    chain (each re-enqueueing itself while more was due), and one big campaign took every worker
    of the `sends` queue. The rows' skip-locked claims keep a message from going twice; the lease
    keeps the source to one chain (see `_dispatch_lease`).
    """
    lease = _dispatch_lease(club, source, lease_token)
    if lease is None:
        return None
    try:
        result = sends_dispatch(club=club, source=source, max_batches=max_batches, client=client)
        if result.more_to_do:
            lease.renew()
            return replace(result, lease_token=lease.token.isoformat())
    except LeaseLost:
        # This chain outran SEND_DISPATCH_STALE_AFTER and was taken over: the new one carries on.
        return result
    except BaseException:
        lease.release(status=SendDispatchStatus.IDLE)  # free for the retry, or the next tick
        raise
    lease.release(status=SendDispatchStatus.IDLE)
    return result


def _dispatch_lease(club, source: SendSource, token: str) -> Lease | None:
    """The source's dispatch lease: resumed with the `token` the chain's previous run handed on,
    else claimed if no live chain holds it.

    The race: the tick and a chain's continuation (or two ticks' items, or a redelivered task)
    reach the same source at once. The claim is one conditional UPDATE (crm/kernel/leases.py), so
    exactly one wins; a continuation's token is the heartbeat its predecessor wrote, so it resumes
    only if nobody took the lease meanwhile. A token that no longer matches (its lease was released
    after a failure, or went stale and was taken) falls back to a claim, which fails while another
    chain is live. A chain that died holds the lease only until it is stale.
    """
    row = SendDispatch.objects.for_club(club).filter(source_kind=source.kind, source_id=source.id)
    if token:
        lease = Lease(row=row, heartbeat_field="heartbeat_at", token=datetime.fromisoformat(token))
        try:
            lease.renew()
            return lease
        except LeaseLost:
            pass
    SendDispatch.objects.for_club(club).get_or_create(club=club, source_kind=source.kind, source_id=source.id)
    return lease_claim(row, **_DISPATCH_LEASE)


def send_sources_due_for_dispatch(*, now: datetime | None = None):
    """The sources with rows due now, oldest due row first, as (club_id, source_kind, source_id,
    oldest_due_at) rows (platform-wide; the dispatch tick's selector; slice it).

    Due, as `sends_dispatch` claims them: pending or deferred with `due_at` passed, and not claimed
    by a live dispatcher (a claim whose `claimed_until` has passed was a dispatcher's that died);
    and the source's dispatch lease not held by a live chain (see `sends_dispatch_leased`), which
    sends them itself.
    The scan reads the open rows only (the partial index `message_send_open`), and rows are open
    only until the minute or so their source takes to go out, or their quiet hours end.
    """
    now = now or timezone.now()
    # A source whose chain holds its lease is not due: leases.py says what is free to claim, so
    # the tick offers exactly the sources its item task can take.
    chain_running = (
        SendDispatch.objects.unscoped_across_clubs()
        .filter(club_id=OuterRef("club_id"), source_kind=OuterRef("source_kind"), source_id=OuterRef("source_id"))
        .exclude(lease_free(**_DISPATCH_LEASE, now=now))
    )
    return (
        MessageSend.objects.unscoped_across_clubs()
        .filter(_due(now))
        .filter(~Exists(chain_running))
        .values("club_id", "source_kind", "source_id")
        .annotate(oldest_due_at=Min("due_at"))
        .order_by("oldest_due_at", "club_id", "source_kind", "source_id")
    )


def suppression_add(
    *,
    club,
    actor: Actor,
    channel: str,
    reason: str,
    profile=None,
    address: str = "",
    note: str = "",
) -> list[Suppression]:
    """Stop sending on `channel` to the profile and/or the address (normalised like identifiers);
    returns the suppressions that now stand for them, the profile's first. A profile and an
    address are separate rows (the address stops whichever profile holds it later), each kept if
    it exists; what is new is audited. Rows already enqueued are skipped when they are claimed.
    Raises MarketingError for a channel or reason staff got wrong, CrmError invalid_identifier for
    an address that isn't one, and CrmError not_found for another club's profile."""
    if channel not in SendChannel.values or reason not in SuppressionReason.values:
        raise MarketingError(
            MarketingErrorCode.INVALID_SUPPRESSION,
            f"Unknown channel {channel!r} or reason {reason!r}.",
            {"channel": SendChannel.values, "reason": SuppressionReason.values},
        )
    if profile is not None:
        require_in_club(club, profile)
    if address:
        kind = IdentifierKind.EMAIL if channel == SendChannel.EMAIL else IdentifierKind.PHONE
        address = identifier_normalise(kind=kind, raw_value=address, region=club.default_phone_region)
    if profile is None and not address:
        raise MarketingError(
            MarketingErrorCode.INVALID_SUPPRESSION, "A suppression names a profile, an address, or both."
        )
    names = ([{"profile": profile}] if profile is not None else []) + ([{"address": address}] if address else [])
    with transaction.atomic():
        standing = [_suppression_upsert(club, channel=channel, reason=reason, note=note, **name) for name in names]
        created = [suppression for suppression, is_new in standing if is_new]
        if created:
            audit_record(
                club=club,
                actor=actor,
                action=AuditAction.SUPPRESSION_ADD,
                target=created[0],
                summary=f"Suppressed {channel} ({reason})" + (f" for profile #{profile.pk}" if profile else ""),
                details={
                    "channel": channel,
                    "reason": reason,
                    "profile_id": profile.pk if profile else None,
                    "suppression_ids": [suppression.pk for suppression in created],
                },
            )
    return list({suppression.pk: suppression for suppression, _ in standing}.values())


def _suppression_upsert(club, *, channel: str, reason: str, note: str, **name) -> tuple[Suppression, bool]:
    """The club's suppression on `channel` of exactly the profile or the address in `name`, and
    whether it is new. An existing row is kept as it is (its first reason stands)."""
    existing = Suppression.objects.for_club(club).filter(channel=channel, **name)
    if found := existing.first():
        return found, False
    try:
        # A savepoint: a concurrent add of the same suppression can win the insert, and the unique
        # constraint says so; theirs is the row then.
        with transaction.atomic():
            return Suppression.objects.create(club=club, channel=channel, reason=reason, note=note, **name), True
    except IntegrityError:
        return existing.get(), False


# --- the rules ------------------------------------------------------------------------------


def _apply_rules(
    club, rows, *, source: SendSource, channel: str, policy: SendPolicy | None, now: datetime
) -> dict[str, int]:
    """Skip the open rows among `rows` (the source's, on `channel`) that may not go, then defer the
    rest if it is quiet hours.
    One UPDATE per rule, first reason wins; returns {reason or "deferred": rows}."""
    open_rows = rows.filter(status__in=OPEN_SEND_STATUSES)
    outcome = {}
    for reason, condition in _skip_conditions(club, open_rows, source=source, channel=channel, policy=policy, now=now):
        if reason != SendSkipReason.ERASED:
            # A row already sent at least once may be in Messaging: its answer was lost (a timeout
            # after Messaging applied the batch, a worker killed mid-call). Skipping it now could
            # mark "skipped" a message that was delivered. It was cleared by every rule when it was
            # first claimed, so it goes again under its key, and Messaging answers `duplicate` if
            # it had it. Only erasure still stops it: an erased person gets nothing more, and their
            # details are gone anyway.
            condition &= Q(attempts=0)
        outcome[reason] = open_rows.filter(condition).update(
            status=SendStatus.SKIPPED, skip_reason=reason, claimed_until=None
        )
    quiet_until = quiet_hours_end(club, policy, now)
    if quiet_until is not None:
        outcome["deferred"] = open_rows.update(status=SendStatus.DEFERRED, due_at=quiet_until, claimed_until=None)
    return {name: count for name, count in outcome.items() if count}


# A merge keeps the merged-away profile (and everything filed under its id: suppressions, rows
# sent to it) and points it at the survivor; so what was done to a person is found under the row's
# profile and under the profiles merged into it, followed two merges deep.
SAME_PERSON = ("profile", "profile__merged_into", "profile__merged_into__merged_into")


def _skip_conditions(club, rows, *, source, channel, policy, now):
    address = ADDRESS_FIELDS.get(channel)
    suppressions = Suppression.objects.for_club(club).filter(channel=channel)
    # One Exists per way a suppression can name the row, each an index lookup (the partial unique
    # indexes on profile and on address); an OR inside one Exists scans the club's suppressions per
    # row. A profile-only suppression stores address "": only non-empty addresses may match, or it
    # would suppress every profile without one.
    suppressed = _any_exists(suppressions.filter(profile__isnull=False), SAME_PERSON)
    if address:
        suppressed |= Exists(suppressions.filter(address=OuterRef(address)).exclude(address=""))
    # This source already reached the person under a profile since merged into the row's.
    reached = _source_rows(club, source, channel).filter(Q(status=SendStatus.SENT) | _in_flight(now))
    yield SendSkipReason.ERASED, Q(profile__is_erased=True)
    yield SendSkipReason.MERGED, Q(profile__merged_into__isnull=False)
    yield SendSkipReason.ALREADY_SENT, _any_exists(reached, SAME_PERSON[1:])
    yield SendSkipReason.NO_CONSENT, Q(**{f"profile__{channel}_opt_in": False})
    yield SendSkipReason.SUPPRESSED, suppressed
    if address:
        yield SendSkipReason.NO_ADDRESS, Q(**{address: ""})
    if policy is not None and policy.frequency_cap_messages is not None:
        # What counts against the cap: sent within the window from any source, what other
        # dispatchers have claimed but not yet heard back about (see the advisory lock in _claim)
        # and what was sent but never answered for (Messaging may have delivered it),
        # to the person under any of their ids. One count per id path, each an index lookup.
        counted = (
            MessageSend.objects.for_club(club)
            .filter(channel=channel)
            .exclude(pk=OuterRef("pk"))
            .filter(
                Q(status=SendStatus.SENT, sent_at__gt=now - timedelta(days=policy.frequency_cap_days)) | _in_flight(now)
            )
        )
        counts = [
            Coalesce(
                Subquery(
                    counted.filter(**{path: OuterRef("profile")})
                    .order_by()
                    .values("club")
                    .annotate(rows=Count("pk"))
                    .values("rows"),
                    output_field=IntegerField(),
                ),
                Value(0),
            )
            for path in SAME_PERSON
        ]
        at_cap = (
            rows.annotate(counted=reduce(operator.add, counts))
            .filter(counted__gte=policy.frequency_cap_messages)
            .values("pk")
        )
        yield SendSkipReason.FREQUENCY_CAP, Q(pk__in=at_cap)


def _any_exists(queryset, paths) -> Q:
    """Whether `queryset` has a row whose `path` is the outer row's profile, for any of `paths`."""
    return reduce(operator.or_, (Exists(queryset.filter(**{path: OuterRef("profile")})) for path in paths))


def _in_flight(now) -> Q:
    """Rows a dispatcher has claimed and not yet heard back about, and rows sent before whose
    answer never came (Messaging may have them: see `_apply_rules`)."""
    return Q(status__in=OPEN_SEND_STATUSES) & (Q(claimed_until__gt=now) | Q(attempts__gt=0))


def quiet_hours_end(club, policy: SendPolicy | None, now: datetime) -> datetime | None:
    """When the club's quiet hours that `now` falls in end, or None outside them. Quiet hours may
    span midnight (21:00–08:00); they are read in the club's timezone."""
    if policy is None or policy.quiet_hours_start is None or policy.quiet_hours_start == policy.quiet_hours_end:
        return None
    zone = zoneinfo.ZoneInfo(club.timezone)
    local = now.astimezone(zone)
    start, end, time_of_day = policy.quiet_hours_start, policy.quiet_hours_end, local.time()
    if start < end:
        inside, ends_on = start <= time_of_day < end, local.date()
    else:
        inside = time_of_day >= start or time_of_day < end
        ends_on = local.date() + timedelta(days=1) if time_of_day >= start else local.date()
    return datetime.combine(ends_on, end, tzinfo=zone) if inside else None


def _policy(club) -> SendPolicy | None:
    return SendPolicy.objects.for_club(club).first()


# --- claiming and sending -------------------------------------------------------------------


def _source_rows(club, source: SendSource, channel: str):
    return MessageSend.objects.for_club(club).filter(source_kind=source.kind, source_id=source.id, channel=channel)


def _claimed(now) -> Q:
    return Q(claimed_until__gt=now)


def _due(now) -> Q:
    return Q(status__in=OPEN_SEND_STATUSES, due_at__lte=now) & ~_claimed(now)


def _claim(club, content: MessageContent, policy, clock, progress: "_Progress", batch) -> list[dict]:
    """Claim one batch of due rows (the sliced, skip-locked queryset `batch`) and re-check them,
    in one short transaction; returns the claimed rows, including those the rules just settled,
    so the batching walks on past them. In quiet hours it claims nothing: the channel's due rows
    are deferred to their end, and the run moves on."""
    now = clock()
    source = SendSource(content.source_kind, content.source_id)
    if quiet_hours_end(club, policy, now) is not None:
        due = _source_rows(club, source, content.channel).filter(_due(now))
        progress.add(_apply_rules(club, due, source=source, channel=content.channel, policy=policy, now=now))
        return []
    with transaction.atomic():
        if policy is not None and policy.frequency_cap_messages is not None:
            # Two dispatchers of different sources must not both count the same room under the
            # cap: the second one's count must see the first one's claim.
            advisory_xact_lock("message-send-cap", [f"{club.pk}:{content.channel}"])
        claimed = list(batch)
        ids = [row["id"] for row in claimed]
        # The rules first, while `attempts` still says whether a row may already be in Messaging.
        settled = _apply_rules(
            club, _open_rows(club, ids), source=source, channel=content.channel, policy=policy, now=now
        )
        progress.add(settled)
        _open_rows(club, ids).update(
            claimed_until=now + timedelta(seconds=settings.MESSAGING_SEND_CLAIM_SECONDS), attempts=F("attempts") + 1
        )
    return claimed


def _send_batch(club, content: MessageContent, ids: list[int], client: MessagingClient, clock, progress) -> None:
    rows = list(
        MessageSend.objects.for_club(club)
        .filter(pk__in=ids, status__in=OPEN_SEND_STATUSES)
        .order_by("profile_id")
        .values(
            "id",
            "profile_id",
            "profile__primary_email",
            "profile__primary_phone",
            "profile__first_name",
            contact_id=Subquery(messaging_contact_id(club)),
        )
    )
    if not rows:
        return
    keys = {}
    recipients = []
    for row in rows:
        key = send_idempotency_key(
            club_id=club.pk,
            source_kind=content.source_kind,
            source_id=content.source_id,
            channel=content.channel,
            profile_id=row["profile_id"],
        )
        keys[key] = row["id"]
        first_name = {"first_name": row["profile__first_name"]} if row["profile__first_name"] else {}
        recipients.append({**messaging_contact(row), "idempotency_key": key, "variables": first_name})
    message = {
        "channel": content.channel,
        "template_id": content.template_id,
        "subject": content.subject,
        "body": content.body,
        "variables": content.variables,
    }
    progress.batches += 1
    prefix = f"fairway-send-{club.pk}-{content.source_kind}-{content.source_id}-{content.channel}-batch"
    try:
        outcomes = client.messages_send_batch(
            recipients=recipients, idempotency_key=idempotency_key(prefix, [message, recipients]), **message
        )
    except MessagingUnavailable:
        progress.failed += _no_answer(club, ids, clock())
        raise
    except MessagingRejected as error:
        progress.failed += _open_rows(club, ids).update(status=SendStatus.FAILED, error=str(error), claimed_until=None)
        logger.warning("a send batch of %s (club %s) was rejected: %s", content, club.pk, error)
        return
    _record_outcomes(club, outcomes, keys, clock(), progress)


def _record_outcomes(club, outcomes, keys: dict[str, int], now, progress) -> None:
    acknowledged, rejected = {}, {}
    for outcome in outcomes:
        row_id = keys.get(outcome.idempotency_key)
        if row_id is None:
            continue
        if outcome.status in ("accepted", "duplicate"):
            acknowledged[row_id] = outcome.message_id
        else:
            rejected[row_id] = outcome.reason or outcome.status
    with transaction.atomic():
        # Marked sent whatever the row says now: Messaging has it, so the ledger must say so even if
        # another dispatcher settled the row meanwhile (its claim had outlived ours).
        sent = [
            MessageSend(pk=row_id, status=SendStatus.SENT, message_id=message_id, sent_at=now, claimed_until=None)
            for row_id, message_id in acknowledged.items()
        ]
        MessageSend.objects.for_club(club).bulk_update(
            sent, ["status", "message_id", "sent_at", "claimed_until"], batch_size=1000
        )
        failed = [
            MessageSend(pk=row_id, status=SendStatus.FAILED, error=reason[:500], claimed_until=None)
            for row_id, reason in rejected.items()
        ]
        MessageSend.objects.for_club(club).bulk_update(failed, ["status", "error", "claimed_until"], batch_size=1000)
        # A recipient Messaging did not answer for is neither sent nor failed: due again later.
        unanswered = set(keys.values()) - acknowledged.keys() - rejected.keys()
        gave_up = _no_answer(club, unanswered, now) if unanswered else 0
    progress.sent += len(sent)
    progress.failed += len(failed) + gave_up


def _no_answer(club, ids, now) -> int:
    """Release the open rows among `ids` that Messaging gave no answer for: failed once they have
    had MAX_SEND_ATTEMPTS, else due again after the backoff their attempts earn (the claim counted
    this attempt). They stay in doubt (`attempts > 0`): the next try sends them under the same
    keys, and Messaging answers `duplicate` for any it had. Returns how many were failed."""
    rows = _open_rows(club, ids)
    failed = rows.filter(attempts__gte=MAX_SEND_ATTEMPTS).update(
        status=SendStatus.FAILED,
        error=f"No answer from Messaging after {MAX_SEND_ATTEMPTS} attempts.",
        claimed_until=None,
    )
    # The rows left open have fewer than MAX_SEND_ATTEMPTS attempts: one UPDATE picks each its backoff.
    rows.update(
        claimed_until=None,
        due_at=Case(
            *(
                When(attempts=attempts, then=Value(now + send_retry_backoff(attempts)))
                for attempts in range(MAX_SEND_ATTEMPTS)
            ),
            default=Value(now + send_retry_backoff(MAX_SEND_ATTEMPTS)),
        ),
    )
    return failed


def send_retry_backoff(attempts: int) -> timedelta:
    """How long a row Messaging did not answer for waits after its `attempts`-th attempt."""
    return timedelta(
        seconds=min(SEND_RETRY_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), SEND_RETRY_BACKOFF_MAX_SECONDS)
    )


def _open_rows(club, ids):
    return MessageSend.objects.for_club(club).filter(pk__in=list(ids), status__in=OPEN_SEND_STATUSES)


@dataclass
class _Progress:
    sent: int = 0
    failed: int = 0
    batches: int = 0
    settled: Counter = field(default_factory=Counter)  # skip reasons and "deferred"

    def add(self, outcome: dict[str, int]) -> None:
        self.settled.update(outcome)

    def result(self, **extra) -> DispatchResult:
        skipped = {reason: n for reason, n in self.settled.items() if reason != "deferred"}
        return DispatchResult(
            sent=self.sent,
            failed=self.failed,
            deferred=self.settled["deferred"],
            skipped=skipped,
            batches=self.batches,
            **extra,
        )
