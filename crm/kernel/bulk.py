"""Bulk UPDATE for PostgreSQL: one `UPDATE … FROM jsonb_to_recordset(…)` for any number of rows.

Django's `bulk_update` writes `SET f = CASE WHEN id=1 THEN … WHEN id=2 THEN … END` for every
field; building and planning that for a batch of 1,000 events cost more than applying them.
Here the rows travel as one JSON document that PostgreSQL turns into typed columns, so the SQL is
short, and the client quotes a single string rather than thousands of values (psycopg's array
quoting escapes JSON values character by character). Other databases use Django's implementation.
"""

import json
import uuid
from datetime import date, datetime, time
from decimal import Decimal

from django.db import connections
from django.db.models import JSONField


def bulk_update_by_json(queryset, objs, fields) -> int:
    """Write `fields` of `objs` in one statement, only to rows `queryset` can see (its club)."""
    model = queryset.model
    connection = connections[queryset.db]
    quote = connection.ops.quote_name
    concrete = [model._meta.get_field(name) for name in fields]
    pk = model._meta.pk
    rows = [
        {"pk_": obj.pk, **{f"f{index}": _value(field, obj, connection) for index, field in enumerate(concrete)}}
        for obj in objs
    ]
    record = ", ".join(
        ["pk_ " + pk.db_type(connection)]
        + [f"f{index} {field.db_type(connection)}" for index, field in enumerate(concrete)]
    )
    # The queryset's own filter (the club) decides which rows may be written: a stray id from
    # another club matches nothing.
    visible_sql, visible_params = queryset.filter(pk__in=[obj.pk for obj in objs]).values("pk").query.sql_with_params()
    sql = (
        f"UPDATE {quote(model._meta.db_table)} AS t SET "
        + ", ".join(f"{quote(field.column)} = v.f{index}" for index, field in enumerate(concrete))
        + f" FROM jsonb_to_recordset(%s::jsonb) AS v({record})"
        + f" WHERE t.{quote(pk.column)} = v.pk_ AND t.{quote(pk.column)} IN ({visible_sql})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows, default=json_default), *visible_params])
        return cursor.rowcount


def _value(field, obj, connection):
    value = getattr(obj, field.attname)
    if isinstance(field, JSONField):
        return value  # nested as JSON, arrives as jsonb
    return field.get_prep_value(value)


def json_default(value):
    """JSON for dates, times and decimals at full precision (Django's encoder drops microseconds)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()  # full precision, with the offset
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def bulk_create_by_json(queryset, objs, *, ignore_conflicts: bool = False) -> list:
    """INSERT every object in one statement from a JSON document; sets pks (unless ignoring conflicts).

    Same contract as Django's `bulk_create` for new objects without a pk: `pre_save` runs (so
    auto_now_add stamps are set), and rows come back in the order given, so pks are assigned to
    the right objects (the SELECT is ordered and PostgreSQL returns INSERT rows in that order).
    """
    model = queryset.model
    connection = connections[queryset.db]
    quote = connection.ops.quote_name
    pk = model._meta.pk
    fields = [field for field in model._meta.concrete_fields if field is not pk and not field.generated]
    rows = []
    for position, obj in enumerate(objs):
        row = {"ord_": position}
        for index, field in enumerate(fields):
            value = field.pre_save(obj, True)
            row[f"f{index}"] = value if isinstance(field, JSONField) else field.get_prep_value(value)
        rows.append(row)
    record = ", ".join(
        ["ord_ integer"] + [f"f{index} {field.db_type(connection)}" for index, field in enumerate(fields)]
    )
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(f"v.f{index}" for index in range(len(fields)))
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {values} "
        f"FROM jsonb_to_recordset(%s::jsonb) AS v({record}) ORDER BY v.ord_"
    )
    sql += " ON CONFLICT DO NOTHING" if ignore_conflicts else f" RETURNING {quote(pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(rows, default=json_default)])
        if not ignore_conflicts:
            for obj, (new_pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = new_pk
    for obj in objs:
        obj._state.adding = False
        obj._state.db = queryset.db
    return objs
