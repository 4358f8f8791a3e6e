from django.db import transaction

from crm.errors import CrmError, CrmErrorCode
from crm.kernel.actor import Actor
from crm.models import AuditAction, Club, ClubMembership, Role, User
from crm.services.audit import audit_changes, audit_record


@transaction.atomic
def staff_invite(*, club, actor: Actor, email: str, role: Role) -> tuple[ClubMembership, bool]:
    """Give a person a role at the club, creating their login if needed (no password yet).

    Returns (membership, user_was_created). The caller sends the set-password email after commit.
    """
    email = (email or "").strip().lower()
    if "@" not in email:
        raise CrmError(CrmErrorCode.INVALID_STAFF, "Enter the staff member's email address.")
    _require_can_grant(club=club, actor=actor, role=role)
    user = User.objects.filter(email=email).first()
    created = user is None
    if created:
        user = User.objects.create_user(email=email, password=None)
    if ClubMembership.objects.filter(club=club, user=user).exists():
        raise CrmError(CrmErrorCode.INVALID_STAFF, f"{email} already has a role at {club}.")
    membership = ClubMembership.objects.create(club=club, user=user, role=role)
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.STAFF_INVITE,
        target=membership,
        summary=f"Invited {email} as {role}",
    )
    return membership, created


@transaction.atomic
def staff_change_role(*, actor: Actor, membership: ClubMembership, role: Role) -> ClubMembership:
    club = membership.club
    _require_can_grant(club=club, actor=actor, role=role)
    # Lock the club's owner rows so two admins demoting the last two owners at once can't
    # both see "another owner remains" and leave the club with none.
    owners = list(ClubMembership.objects.select_for_update().filter(club=club, role=Role.OWNER))
    # The stored role, not the instance's: an admin form has already written the new role onto it.
    previous = ClubMembership.objects.get(pk=membership.pk).role
    if previous == Role.OWNER and role != Role.OWNER and len(owners) <= 1:
        raise CrmError(CrmErrorCode.INVALID_STAFF, "A club needs at least one owner.")
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.STAFF_ROLE_CHANGE,
        target=membership,
        summary=f"{membership.user.email}: {previous} → {role}",
    )
    return membership


@transaction.atomic
def staff_remove(*, actor: Actor, membership: ClubMembership) -> None:
    club = membership.club
    owners = list(ClubMembership.objects.select_for_update().filter(club=club, role=Role.OWNER))
    if ClubMembership.objects.get(pk=membership.pk).role == Role.OWNER and len(owners) <= 1:
        raise CrmError(CrmErrorCode.INVALID_STAFF, "A club needs at least one owner.")
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.STAFF_REMOVE,
        target=membership,
        summary=f"Removed {membership.user.email} ({membership.role})",
    )
    membership.delete()


@transaction.atomic
def club_update(*, club, actor: Actor, changes: dict) -> Club:
    """Edit the club's own settings (name, country, timezone, settings, ...); the audit row keeps
    each change as [before, after]."""
    # The stored row, not the object handed in (a form's instance already carries the edit);
    # locked so two edits racing each other each record the [before, after] they made.
    stored = Club.objects.select_for_update().get(pk=club.pk)
    before = {field: getattr(stored, field) for field in changes}
    for field, value in changes.items():
        setattr(stored, field, value)
    stored.save()  # Club.save normalises country and region codes
    changed = audit_changes(before, {field: getattr(stored, field) for field in changes})
    if changed:
        audit_record(
            club=stored,
            actor=actor,
            action=AuditAction.CLUB_UPDATE,
            target=stored,
            summary=f"Edited {', '.join(changed)}",
            details=changed,
        )
    return stored


def _require_can_grant(*, club, actor: Actor, role) -> None:
    # Only owners (and platform operators) may create or promote owners.
    user = actor.user
    is_owner = user is not None and (
        user.is_superuser or ClubMembership.objects.filter(club=club, user=user, role=Role.OWNER).exists()
    )
    if role == Role.OWNER and not is_owner:
        raise CrmError(CrmErrorCode.NOT_PERMITTED, "Only an owner can make someone an owner.")
