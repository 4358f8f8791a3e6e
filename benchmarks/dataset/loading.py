"""Binary COPY into PostgreSQL: column lists, reserved ids, progress, and deleting a club wholesale."""

import json
import sys
import time

from django.apps import apps
from django.db import connection, models, transaction
from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format

from crm.models import Club

CHUNK = 100_000  # rows per COPY statement: FK checks run (and free their queue) at its end


class Progress:
    """Rows written and rows/s, printed at most every two seconds."""

    def __init__(self, label: str, total: int | None):
        self.label, self.total = label, total
        self.started = self.last = time.perf_counter()
        self.done = self.shown = 0

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def add(self, rows: int) -> None:
        self.done += rows
        self.show(self.done)

    def show(self, done: int, *, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and (now - self.last < 2 or done == self.shown):
            return
        self.last, self.shown = now, done
        out_of = f" / {self.total:,}" if self.total is not None else ""
        rate = done / (now - self.started) if now > self.started else 0
        print(f"  {self.label}: {done:,}{out_of} rows, {rate:,.0f} rows/s", flush=True)


def timing(label: str, rows: int, seconds: float) -> dict:
    return {"table": label, "rows": rows, "seconds": seconds, "rows_per_second": rows / seconds if seconds else None}


PROFILE_COLUMNS = [
    "id",
    "club_id",
    "first_name",
    "last_name",
    "primary_email",
    "primary_phone",
    "date_of_birth",
    "gender",
    "postcode",
    "country",
    "locale",
    "timezone",
    "member_number",
    "membership_status",
    "membership_tier",
    "membership_joined_on",
    "membership_renewal_on",
    "membership_lapsed_on",
    "handicap_index",
    "home_course",
    "rounds_played",
    "last_round_at",
    "email_opt_in",
    "sms_opt_in",
    "push_opt_in",
    "whatsapp_opt_in",
    "consent_updated_at",
    "lifecycle_stage",
    "custom_attributes",
    "field_sources",
    "name_key",
    "is_erased",
    "created_at",
    "updated_at",
]
IDENTIFIER_COLUMNS = ["club_id", "profile_id", "kind", "value", "source", "first_seen_at", "last_seen_at"]
PROFILE_TAG_COLUMNS = ["club_id", "profile_id", "tag_id", "created_at"]
ACTIVITY_COLUMNS = [
    "club_id",
    "profile_id",
    "occurred_at",
    "source",
    "type",
    "summary",
    "properties",
    "amount",
    "created_at",
]


class JsonText(str):
    """Only a name to register JsonTextBinaryDumper under; COPY picks dumpers by column type."""


class JsonTextBinaryDumper(Dumper):
    """jsonb in binary COPY from JSON text the generator already has: format version 1, then the text.

    Binary COPY saves the server parsing every timestamp and number (about 15-20% on activities)."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def column_types(cursor, table: str, columns: list[str]) -> list[str]:
    """Each COPY column's type name, as binary COPY needs them (varchar travels as text)."""
    cursor.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        [table],
    )
    names = dict(cursor.fetchall())
    return ["text" if names[column] in ("varchar", "bpchar") else names[column] for column in columns]


def with_defaults(model, columns: list[str]) -> tuple[list[str], tuple]:
    """The COPY columns plus any NOT NULL column this package doesn't know (added since it was
    written) filled with the model field's default; a new required column without one stops here."""
    extra_columns, extra_values = [], []
    for field in model._meta.concrete_fields:
        if field.column in columns or field.primary_key:
            continue
        value = field.get_default()  # "" for text fields without a default, as a model save would store
        if value is None:
            if not field.null:
                sys.exit(f"{model._meta.db_table}.{field.column} has no default: teach benchmarks.dataset it.")
            continue
        extra_columns.append(field.column)
        extra_values.append(json.dumps(value) if isinstance(field, models.JSONField) else value)
    return [*columns, *extra_columns], tuple(extra_values)


def reserve_ids(model, count: int) -> int:
    """The first of `count` consecutive ids nobody else will get: the sequence is moved past them
    while the table is locked against inserts (a few milliseconds)."""
    table = model._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT nextval(%s), (SELECT coalesce(max(id), 0) FROM {table})", [sequence])
        next_value, highest = cursor.fetchone()
        first = max(next_value, highest + 1)
        cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


def club_delete(club: Club) -> int:
    """Everything of one club, with one DELETE per table (the ORM would load a million rows to
    cascade). Tables are emptied children first; rows in tables without a club column that point
    at the club's rows go first of all (none today)."""
    scoped, indirect = [], []
    for model in apps.get_models(include_auto_created=True):
        relations = [field for field in model._meta.concrete_fields if field.is_relation]
        if any(field.related_model is Club for field in relations):
            scoped.append(model)
    scoped_set = set(scoped)
    for model in apps.get_models(include_auto_created=True):
        if model in scoped_set or model is Club:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model in scoped_set:
                indirect.append((model, field))
    order, remaining = [], list(scoped)
    while remaining:  # children (models nobody remaining points at) first
        referenced = {
            field.related_model
            for model in remaining
            for field in model._meta.concrete_fields
            if field.is_relation and field.related_model is not model
        }
        leaves = [model for model in remaining if model not in referenced] or remaining[:1]
        order += leaves
        remaining = [model for model in remaining if model not in leaves]
    deleted = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for model, field in indirect:
            parent = field.related_model._meta.db_table
            where = f"{field.column} IN (SELECT id FROM {parent} WHERE club_id = %s)"
            table = model._meta.db_table
            if field.remote_field.on_delete is models.SET_NULL:
                cursor.execute(f"UPDATE {table} SET {field.column} = NULL WHERE {where}", [club.pk])
            else:
                cursor.execute(f"DELETE FROM {table} WHERE {where}", [club.pk])
                deleted += cursor.rowcount
        for model in order:
            column = next(f.column for f in model._meta.concrete_fields if f.is_relation and f.related_model is Club)
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE {column} = %s", [club.pk])
            deleted += cursor.rowcount
        cursor.execute(f"DELETE FROM {Club._meta.db_table} WHERE id = %s", [club.pk])
    return deleted
