from crm.models import AuditAction, AuditLog


def audit_record(
    *,
    club,
    actor,
    action: AuditAction,
    target=None,
    object_type: str = "",
    object_id: str = "",
    summary: str = "",
    details: dict | None = None,
    ip_address: str | None = None,
) -> AuditLog:
    """Append one audit row. Call it inside the transaction of the change it records."""
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
    return AuditLog.objects.create(
        club=club,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:300],
        details=details or {},
        ip_address=ip_address,
    )


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None
