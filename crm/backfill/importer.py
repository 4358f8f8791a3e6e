"""MCA v1 backfill: legacy CSV exports become profiles through the same identity resolution.

`profiles_import` reads and checks the whole file first (a wrong format, missing columns or an
unreadable file is refused before anything is written), rejects bad rows with their reasons,
then resolves and applies the good rows in batches, each committed on its own: each row is a `PersonRef` (legacy id and
handicap id as strong keys, email and phone as shared keys, names, birthday and postcode for
probabilistic matching), so a member already known from SCL is found, duplicates inside the
export join each other, and doubtful pairs go to the review queue. Values are offered with the
`backfill` source, the lowest precedence: they fill gaps and never overwrite what the live
systems or staff set. Every backfill value carries the same stamp, so importing the same file
again changes nothing.
"""

import csv
import io
import time
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode
from crm.events.processing import profiles_lock_for_refs, profiles_save_drafts
from crm.identity.identifiers import phone_to_e164
from crm.kernel.actor import Actor
from crm.kernel.locks import advisory_locks_skipped
from crm.models import Activity, AuditAction, MergeReason, ProfileIdentifier
from crm.services.audit import audit_record
from crm.services.resolution import PersonRef, profiles_resolve
from crm.services.survivorship import ProfileDraft

FORMATS_FILE = Path(__file__).with_name("formats.toml")
REQUIRED_COLUMNS = ("legacy_id", "first_name", "last_name")
BACKFILL_AT = datetime(2000, 1, 1, tzinfo=UTC)  # one stamp for every backfill value (see module doc)
BATCH_SIZE = 500


def import_formats() -> dict:
    config = tomllib.loads(FORMATS_FILE.read_text())
    values = config.pop("values", {})
    for spec in config.values():
        spec["values"] = values
    return config


@dataclass
class ImportRow:
    line: int
    raw: dict
    legacy_id: str = ""
    values: dict = field(default_factory=dict)  # profile fields
    email: str = ""
    phone: str = ""
    handicap_id: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    read: int = 0
    created: int = 0
    matched: int = 0
    merged: int = 0
    suggested: int = 0
    rejected: int = 0
    rejections: list[tuple[int, str, str, dict]] = field(default_factory=list)  # line, legacy id, reason, row
    warnings: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    def as_dict(self) -> dict:
        return {
            name: getattr(self, name)
            for name in ("read", "created", "matched", "merged", "suggested", "rejected", "warnings", "dry_run")
        } | {"seconds": round(self.seconds, 2)}


def profiles_import(
    *,
    club,
    actor: Actor,
    fmt: str,
    source,
    dry_run: bool = False,
    on_progress=None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import an MCA v1 export (a path or a text stream). Raises CrmError for a file it can't take."""
    started = time.monotonic()
    formats = import_formats()
    if fmt not in formats:
        raise CrmError(CrmErrorCode.INVALID_IMPORT, f"Unknown format '{fmt}'; choose one of {', '.join(formats)}.")
    spec = formats[fmt]
    report = ImportReport(dry_run=dry_run)
    rows = _read_rows(source, spec)
    report.read = len(rows)
    good = []
    seen_ids: dict[str, int] = {}
    for row in rows:
        reason = _parse_row(row, spec, fmt, seen_ids)
        if reason:
            report.rejected += 1
            report.rejections.append((row.line, row.legacy_id, reason, row.raw))
        else:
            good.append(row)

    if dry_run:
        # One transaction rolled back at the end, so every count is real and nothing stays.
        with transaction.atomic(), advisory_locks_skipped():
            _import_batches(club, fmt, good, report, batch_size, on_progress)
            transaction.set_rollback(True)
    else:
        # A transaction per batch: a batch is all in or all out, and its locks go with its commit.
        # If the run stops half-way, running it again finishes the job (rows already in match).
        _import_batches(club, fmt, good, report, batch_size, on_progress)
        audit_record(
            club=club,
            actor=actor,
            action=AuditAction.IMPORT,
            object_type="crm.customerprofile",
            summary=f"Imported an MCA v1 {fmt} export: {report.read} rows",
            details=report.as_dict(),
        )
    report.seconds = time.monotonic() - started
    return report


def _import_batches(club, fmt, rows, report, batch_size, on_progress) -> None:
    for start in range(0, len(rows), batch_size):
        with transaction.atomic():
            _import_batch(club, fmt, rows[start : start + batch_size], report)
        if on_progress:
            on_progress(min(start + batch_size, len(rows)), len(rows))


# --- Reading and checking --------------------------------------------------------------------


def _read_rows(source, spec: dict) -> list[ImportRow]:
    try:
        text = source.read() if hasattr(source, "read") else Path(source).read_bytes().decode(spec["encoding"])
    except UnicodeDecodeError as error:
        raise CrmError(
            CrmErrorCode.INVALID_IMPORT,
            f"The file is not {spec['encoding']} text (byte {error.start}); export it again as UTF-8.",
        ) from error
    except OSError as error:
        raise CrmError(CrmErrorCode.INVALID_IMPORT, f"Can't read the file: {error.strerror}.") from error
    if isinstance(text, bytes):
        text = text.decode(spec["encoding"])
    text = text.removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=spec["delimiter"])
    header = reader.fieldnames or []
    missing = [spec["columns"][name] for name in REQUIRED_COLUMNS if spec["columns"][name] not in header]
    if missing:
        raise CrmError(
            CrmErrorCode.INVALID_IMPORT,
            f"The header lacks {', '.join(repr(name) for name in missing)}. Is this really a "
            f"'{spec['description']}' file? Header found: {', '.join(header[:12]) or '(empty)'}.",
        )
    rows = []
    try:
        for row in reader:
            if None in row:  # more cells than headers
                rows.append(ImportRow(line=reader.line_num, raw={**row, None: None}))
                continue
            if not any((value or "").strip() for value in row.values()):
                continue
            rows.append(ImportRow(line=reader.line_num, raw=row))
    except csv.Error as error:
        raise CrmError(CrmErrorCode.INVALID_IMPORT, f"Line {reader.line_num}: {error}.") from error
    return rows


def _parse_row(row: ImportRow, spec: dict, fmt: str, seen_ids: dict[str, int]) -> str:
    """Fill the row's values; return the reason it is rejected, or ''."""
    if None in row.raw:
        return "more cells than the header has columns (a stray delimiter?)"
    cell = {name: (row.raw.get(column) or "").strip() for name, column in spec["columns"].items()}
    if not cell["legacy_id"]:
        return "no legacy id"
    row.legacy_id = cell["legacy_id"]
    if row.legacy_id in seen_ids:
        return f"legacy id {row.legacy_id} already on line {seen_ids[row.legacy_id]}"
    seen_ids[row.legacy_id] = row.line
    if not (cell["first_name"] or cell["last_name"]) and not cell.get("email"):
        return "neither a name nor an email"
    values = {
        "first_name": cell["first_name"][:100],
        "last_name": cell["last_name"][:100],
        "member_number": cell.get("member_number", "")[:40],
        "address_line": cell.get("address_line", "")[:200],
        "city": cell.get("city", "")[:100],
        "postcode": cell.get("postcode", "").upper()[:20],
        "membership_tier": cell.get("tier", "")[:40],
    }
    for name, column in (("date_of_birth", "date_of_birth"), ("membership_joined_on", "joined_on")):
        if cell.get(column):
            parsed = _date(cell[column], spec["date_formats"])
            if parsed is None:
                return f"{spec['columns'][column]} '{cell[column]}' is not a date ({' or '.join(spec['date_formats'])})"
            values[name] = parsed
    for name, column in (("membership_status", "status"), ("gender", "gender")):
        if cell.get(column):
            mapped = spec["values"].get(column, {}).get(cell[column].lower())
            if mapped:
                values[name] = mapped
            else:
                row.warnings.append(f"{spec['columns'][column]} '{cell[column]}' not recognised; left empty")
    if cell.get("email"):
        try:
            validate_email(cell["email"].lower())
            row.email = cell["email"].lower()
        except ValidationError:
            row.warnings.append(f"email '{cell['email']}' is not an address; dropped")
    if cell.get("phone"):
        try:
            row.phone = phone_to_e164(cell["phone"], region=spec["phone_region"])
        except CrmError as error:
            row.warnings.append(f"phone dropped: {error.message}")
    row.handicap_id = cell.get("handicap_id", "")
    values["primary_email"], values["primary_phone"] = row.email, row.phone
    row.values = values
    return ""


def _date(text: str, formats: list[str]) -> date | None:
    for pattern in formats:
        try:
            parsed = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if 1900 <= parsed.year <= 2100:
            return parsed
    return None


# --- Writing ---------------------------------------------------------------------------------


def _import_batch(club, fmt: str, rows: list[ImportRow], report: ImportReport) -> None:
    refs = []
    for row in rows:
        keys = [("legacy_id", f"{fmt}:{row.legacy_id}")]
        if row.handicap_id:
            keys.append(("handicap_id", row.handicap_id))
        if row.email:
            keys.append(("email", row.email))
        if row.phone:
            keys.append(("phone", row.phone))
        refs.append(
            PersonRef(
                keys=keys,
                seen_at=BACKFILL_AT,
                source="backfill",
                first_name=row.values["first_name"],
                last_name=row.values["last_name"],
                date_of_birth=row.values.get("date_of_birth"),
                postcode=row.values["postcode"],
            )
        )
    known = set(
        ProfileIdentifier.objects.for_club(club)
        .filter(kind="legacy_id", value__in=[ref.keys[0][1] for ref in refs])
        .values_list("value", flat=True)
    )
    profiles_resolve(club=club, refs=refs, merge_reason=MergeReason.IMPORT)
    profiles = profiles_lock_for_refs(club, refs)
    drafts = {pk: ProfileDraft(profile) for pk, profile in profiles.items()}
    activities = []
    imported_at = timezone.now()
    for row, ref in zip(rows, refs, strict=True):
        drafts[ref.profile_id].offer_many(row.values, source="backfill", at=BACKFILL_AT)
        report.warnings += len(row.warnings) + len(ref.warnings)
        outcome = ref.outcome or "matched"
        setattr(report, outcome, getattr(report, outcome) + 1)
        if ref.keys[0][1] not in known:
            activities.append(
                Activity(
                    club=club,
                    profile_id=ref.profile_id,
                    occurred_at=imported_at,
                    source="backfill",
                    type="profile.imported",
                    summary=f"Imported from the MCA v1 {fmt.upper()} export (legacy id {row.legacy_id})",
                    properties={"legacy_id": row.legacy_id, "format": fmt, "line": row.line},
                )
            )
    profiles_save_drafts(club, drafts)
    Activity.objects.bulk_create(activities, batch_size=1000)


def rejections_write(report: ImportReport, path: Path) -> None:
    """The error report: one line per rejected row, with its reason and the row as read."""
    columns = sorted({key for *_, raw in report.rejections for key in raw if key})
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "legacy_id", "reason", *columns])
        for line, legacy_id, reason, raw in report.rejections:
            writer.writerow([line, legacy_id, reason, *[raw.get(column, "") for column in columns]])
