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
