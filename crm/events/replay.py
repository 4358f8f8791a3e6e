import secrets as random_secrets

from django.db import transaction

from crm.errors import require_in_club
from crm.events.validation import InvalidEvent, event_validate
from crm.kernel.actor import Actor
from crm.models import AuditAction, EventSigningSecret, InboundEvent, InboundEventStatus
from crm.services.audit import audit_record
from crm.tasks import process_inbound_events

REPLAYABLE = (InboundEventStatus.REJECTED, InboundEventStatus.FAILED, InboundEventStatus.DEAD)


@transaction.atomic
def events_replay(*, club, actor: Actor, event_ids) -> dict[str, int]:
    """Put rejected/failed events back in the queue after a fix, and process them on commit.

    A rejected event is validated again against today's catalog: it is queued only if it now
    passes, otherwise its new reasons are stored. Processed events are never replayed (applying
    one twice would double its effects).
    """
    rows = list(
        InboundEvent.objects.for_club(club).filter(pk__in=list(event_ids), status__in=REPLAYABLE).select_for_update()
    )
    queued, still_invalid = [], []
    for row in rows:
        if row.status == InboundEventStatus.REJECTED:
            result = event_validate(
                {
                    "id": row.event_id,
                    "source": row.source,
                    "type": row.type,
                    "occurred_at": row.occurred_at.isoformat() if row.occurred_at else None,
                    "club": club.slug,
                    "schema_version": row.schema_version,
                    "data": row.data,
                }
            )
            if isinstance(result, InvalidEvent):
                row.errors = result.errors
                still_invalid.append(row)
                continue
        row.status, row.errors, row.attempts, row.next_attempt_at = InboundEventStatus.RECEIVED, [], 0, None
        row.transport = "replay"
        queued.append(row)
    InboundEvent.objects.for_club(club).bulk_update(
        queued + still_invalid, ["status", "errors", "attempts", "next_attempt_at", "transport"]
    )
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.EVENT_REPLAY,
        object_type="crm.inboundevent",
        summary=f"Replayed {len(queued)} event(s); {len(still_invalid)} still invalid",
        details={"queued": [row.pk for row in queued], "still_invalid": [row.pk for row in still_invalid]},
    )
    if queued:
        ids = [row.pk for row in queued]
        transaction.on_commit(lambda: process_inbound_events.delay(ids))
    return {"queued": len(queued), "still_invalid": len(still_invalid), "not_replayable": len(event_ids) - len(rows)}


@transaction.atomic
def signing_secret_create(*, club, actor: Actor, source: str, label: str) -> tuple[EventSigningSecret, str]:
    """A new random secret for a source; the plain value is returned once and never shown again."""
    value = random_secrets.token_urlsafe(32)
    secret = EventSigningSecret.objects.create(club=club, source=source, label=label, secret=value)
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.SECRET_CREATE,
        target=secret,
        summary=f"New {source} signing secret {label}".strip(),
    )
    return secret, value


@transaction.atomic
def signing_secret_revoke(*, club, actor: Actor, secret: EventSigningSecret) -> EventSigningSecret:
    """Stop accepting pushes signed with this secret. The row stays, so the history of which
    secret signed what does; revoking one already revoked changes and records nothing."""
    require_in_club(club, secret)
    # Locked so two revocations racing each other write one audit row, not two.
    secret = EventSigningSecret.objects.for_club(club).select_for_update().get(pk=secret.pk)
    if secret.is_active:
        secret.is_active = False
        secret.save(update_fields=["is_active"])
        audit_record(
            club=club,
            actor=actor,
            action=AuditAction.SECRET_REVOKE,
            target=secret,
            summary=f"Revoked {secret.source} signing secret {secret.label}".strip(),
        )
    return secret
