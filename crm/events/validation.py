"""Envelope and data validation against the catalog. Errors point at the offending path."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm.events.catalog import CATALOG_BY_KEY, SCHEMA_VERSIONS, SOURCES, EventType
from crm.events.fields import DATETIME, FieldError

ENVELOPE_KEYS = {"id", "source", "type", "occurred_at", "club", "schema_version", "data"}


@dataclass(frozen=True)
class ValidEvent:
    event_id: str
    source: str
    type: EventType
    occurred_at: datetime
    club_slug: str
    schema_version: int
    data: dict[str, Any]  # typed values
    raw: dict[str, Any]  # the data as sent, which is what is stored


@dataclass(frozen=True)
class InvalidEvent:
    errors: list[dict[str, str]]
    event_id: str
    source: str
    type_name: str
    occurred_at: datetime | None
    club_slug: str
    raw_data: Any


def _error(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


def event_validate(raw: Any) -> ValidEvent | InvalidEvent:
    """Check one envelope and its data; never raises for bad input, returns the reasons instead."""
    if not isinstance(raw, dict):
        return InvalidEvent([_error("", "an event must be a JSON object")], "", "", "", None, "", None)
    errors = []
    unknown = sorted(set(raw) - ENVELOPE_KEYS)
    if unknown:
        errors.append(_error("", f"unknown envelope field(s): {', '.join(unknown)}"))

    event_id = raw.get("id")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 100:
        errors.append(_error("id", "is required: a non-empty string of at most 100 characters"))
        event_id = ""
    source = raw.get("source")
    if source not in SOURCES:
        errors.append(_error("source", f"must be one of {', '.join(SOURCES)}"))
        source = str(source or "")[:12] if source not in SOURCES else source
    type_name = raw.get("type") if isinstance(raw.get("type"), str) else ""
    event_type = CATALOG_BY_KEY.get((source, type_name))
    if event_type is None and source in SOURCES:
        errors.append(_error("type", f"'{type_name}' is not a {source} event type in the catalog"))
    occurred_at = None
    try:
        occurred_at = DATETIME.parse(raw.get("occurred_at"))
    except FieldError as error:
        errors.append(_error("occurred_at", str(error)))
    club_slug = raw.get("club") if isinstance(raw.get("club"), str) else ""
    if not club_slug:
        errors.append(_error("club", "is required: the club's slug"))
    schema_version = raw.get("schema_version", 1)
    if schema_version not in SCHEMA_VERSIONS or isinstance(schema_version, bool):
        errors.append(_error("schema_version", f"must be one of {', '.join(map(str, SCHEMA_VERSIONS))}"))
    data = raw.get("data")
    if not isinstance(data, dict):
        errors.append(_error("data", "must be an object"))

    parsed = {}
    if event_type is not None and isinstance(data, dict):
        parsed, data_errors = data_validate(event_type, data)
        errors.extend(data_errors)
    if errors:
        return InvalidEvent(
            errors, event_id.strip() if event_id else "", source, type_name[:60], occurred_at, club_slug, data
        )
    return ValidEvent(event_id.strip(), source, event_type, occurred_at, club_slug, schema_version, parsed, data)


def data_validate(event_type: EventType, data: dict) -> tuple[dict, list[dict[str, str]]]:
    parsed, errors = {}, []
    for name, spec in event_type.required.items():
        if data.get(name) in (None, ""):
            errors.append(_error(f"data.{name}", "is required"))
            continue
        try:
            parsed[name] = spec.parse(data[name])
        except FieldError as error:
            errors.append(_error(f"data.{name}", str(error)))
    for name, spec in event_type.optional.items():
        if name in event_type.required or data.get(name) in (None, ""):
            continue
        try:
            parsed[name] = spec.parse(data[name])
        except FieldError as error:
            errors.append(_error(f"data.{name}", str(error)))
    # Fields outside the catalog are kept in the stored event (sources add fields over time)
    # but are not applied.
    return parsed, errors
