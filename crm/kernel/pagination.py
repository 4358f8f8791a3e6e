"""Keyset (cursor) pagination: page 1,000 costs what page 1 does.

Every list that pages by cursor (the timeline, GraphQL connections, segment members) uses
`keyset_page`; the cursor is opaque to clients and names the last row's ordering values.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Q


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next_cursor: str | None


def keyset_page(queryset, *, ordering: tuple[str, ...], cursor: str | None, limit: int) -> KeysetPage:
    """One page after `cursor` in `ordering` (which must end in a unique field, e.g. "-id").

    The cursor is the last row's ordering values, so the next page is an index range scan from
    there: page 1,000 costs what page 1 does, rows inserted meanwhile never shift a page, and
    there is no OFFSET and no COUNT(*). Raises InvalidCursor for a cursor this ordering didn't make.
    """
    fields = [name.lstrip("-") for name in ordering]
    if cursor:
        values = _decode_keyset_cursor(cursor, queryset.model, fields)
        after = Q()
        for position, name in enumerate(fields):
            step = Q(**{f"{name}__{'lt' if ordering[position].startswith('-') else 'gt'}": values[position]})
            for earlier, value in zip(fields[:position], values[:position], strict=True):
                step &= Q(**{earlier: value})
            after |= step
        # The same bound on the first field alone is redundant but becomes an index condition:
        # the scan starts at the cursor instead of filtering every row before it.
        first_bound = "lte" if ordering[0].startswith("-") else "gte"
        queryset = queryset.filter(after, **{f"{fields[0]}__{first_bound}": values[0]})
    rows = list(queryset.order_by(*ordering)[: limit + 1])
    next_cursor = keyset_cursor(rows[limit - 1], ordering=ordering) if len(rows) > limit else None
    return KeysetPage(rows[:limit], next_cursor)


def keyset_cursor(row, *, ordering: tuple[str, ...]) -> str:
    """The cursor that continues `keyset_page` right after `row`."""
    names = [name.lstrip("-") for name in ordering]
    if isinstance(row, dict):  # a .values() row
        values = [row[name] for name in names]
    else:
        values = [getattr(row, "pk" if name == "id" else name) for name in names]
    raw = json.dumps([value.isoformat() if isinstance(value, datetime) else value for value in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_keyset_cursor(cursor: str, model, fields: list[str]) -> list:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded).decode())
        if not isinstance(values, list) or len(values) != len(fields):
            raise ValueError("wrong shape")
        return [model._meta.get_field(name).to_python(value) for name, value in zip(fields, values, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, ValidationError) as error:
        raise InvalidCursor("That cursor is not valid for this list; start again without one.") from error
