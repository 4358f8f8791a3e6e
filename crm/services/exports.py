import csv
import io
from collections.abc import Iterator

from crm.kernel.actor import Actor
from crm.models import AuditAction
from crm.services.audit import audit_record

PROFILE_EXPORT_COLUMNS = [
    "id",
    "first_name",
    "last_name",
    "primary_email",
    "primary_phone",
    "member_number",
    "membership_status",
    "membership_tier",
    "lifecycle_stage",
    "engagement_score",
    "email_opt_in",
    "sms_opt_in",
    "push_opt_in",
    "whatsapp_opt_in",
    "created_at",
]


def profiles_export_csv(
    *, club, actor: Actor, queryset, source: dict | None = None
) -> Iterator[str]:
    """CSV lines for a club's profiles; the audit row is written before the first byte leaves.

    Personal data leaving the system is always audited (SPEC 15), with the row count and ids,
    so a data-protection officer can say exactly who took which people's data and when.
    Rows stream from a server-side cursor, so exporting a whole club holds no list in memory.
    """
    queryset = queryset.for_club(club).filter(merged_into__isnull=True, is_erased=False).order_by("pk")
    profile_ids = list(queryset.values_list("pk", flat=True)[:100_000])
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.EXPORT,
        object_type="crm.customerprofile",
        summary=f"Exported {len(profile_ids)} profile(s) as CSV"
        + (f" from segment '{source['segment']}'" if source and "segment" in source else ""),
        details={
            "count": len(profile_ids),
            "profile_ids": profile_ids,
            "columns": PROFILE_EXPORT_COLUMNS,
            **({"source": source} if source else {}),
        },
    )
    return _csv_lines(queryset.values_list(*PROFILE_EXPORT_COLUMNS))


def _csv_lines(rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(PROFILE_EXPORT_COLUMNS)
    for row in rows.iterator(chunk_size=2000):
        writer.writerow(row)
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
