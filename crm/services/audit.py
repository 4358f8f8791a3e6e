from datetime import date

from crm.kernel.actor import Actor
from crm.models import AuditAction, AuditLog


def audit_record(
    *,
    club,
    actor: Actor,
    action: AuditAction,
    target=None,
    object_type: str = "",
    object_id: str = "",
    summary: str = "",
    details: dict | None = None,
) -> AuditLog:
    """Append one audit row: who (the staff member), which API key and from where, as `actor` says.
    Call it inside the transaction of the change it records."""
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
    return AuditLog.objects.create(
        club=club,
        actor=actor.user,
        api_key=actor.api_key,
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:300],
        details=details or {},
        ip_address=actor.ip_address,
    )


def audit_changes(before: dict, after: dict) -> dict[str, list]:
    """The fields whose value differs, each as [before, after]: the details an edit's audit row
    keeps (dates and times as ISO text, which the row's JSON can hold). Empty when nothing changed."""

    def plain(value):
        return value.isoformat() if isinstance(value, date) else value

    return {field: [plain(before[field]), plain(after[field])] for field in after if before[field] != after[field]}
