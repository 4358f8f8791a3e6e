from django.db import transaction
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode, require_in_club
from crm.kernel.actor import Actor
from crm.models import AuditAction, Note
from crm.services.audit import audit_record


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise CrmError(CrmErrorCode.EMPTY_NOTE, "A note cannot be empty.")
    return body


@transaction.atomic
def note_add(*, club, actor: Actor, profile, body: str, is_pinned: bool = False) -> Note:
    require_in_club(club, profile)
    body = _clean_body(body)
    note = Note.objects.create(club=club, profile=profile, author=actor.user, body=body, is_pinned=is_pinned)
    audit_record(
        club=club, actor=actor, action=AuditAction.NOTE_ADD, target=note, details={"profile_id": profile.pk}
    )
    return note


@transaction.atomic
def note_edit(*, club, actor: Actor, note: Note, body: str | None = None, is_pinned: bool | None = None) -> Note:
    require_in_club(club, note)
    if body is not None:
        note.body = _clean_body(body)
        note.edited_at = timezone.now()
    if is_pinned is not None:
        note.is_pinned = is_pinned
    note.save()
    audit_record(club=club, actor=actor, action=AuditAction.NOTE_EDIT, target=note)
    return note


@transaction.atomic
def note_delete(*, club, actor: Actor, note: Note) -> None:
    require_in_club(club, note)
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.NOTE_DELETE,
        target=note,
        summary=note.body[:200],
        details={"profile_id": note.profile_id},
    )
    note.delete()
