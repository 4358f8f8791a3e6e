"""Typed fields for event `data`: each turns raw JSON into a Python value or raises FieldError."""

import datetime
import decimal
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.dateparse import parse_date, parse_datetime


class FieldError(ValueError):
    pass


@dataclass(frozen=True)
class Field:
    type: str  # documented name: string, email, phone, date, datetime, decimal, integer, boolean, object, list
    description: str = ""
    choices: tuple[str, ...] = ()
    max_length: int = 200
    fields: dict[str, "Field"] = field(default_factory=dict)  # for object fields

    def parse(self, value: Any) -> Any:
        parser = getattr(self, f"_parse_{self.type}")
        return parser(value)

    def _parse_string(self, value):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise FieldError("must be a string")
        value = str(value).strip()
        if not value:
            raise FieldError("must not be empty")
        if len(value) > self.max_length:
            raise FieldError(f"must be at most {self.max_length} characters")
        if self.choices and value not in self.choices:
            raise FieldError(f"must be one of {', '.join(self.choices)}")
        return value

    def _parse_email(self, value):
        value = self._parse_string(value).lower()
        try:
            validate_email(value)
        except ValidationError as error:
            raise FieldError("is not an email address") from error
        return value

    def _parse_phone(self, value):
        # Normalised to E.164 later, with the club's region; here only the shape is checked.
        return self._parse_string(value)

    def _parse_date(self, value):
        parsed = parse_date(value) if isinstance(value, str) else None
        if parsed is None:
            raise FieldError("must be a date (YYYY-MM-DD)")
        return parsed

    def _parse_datetime(self, value):
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise FieldError("must be an ISO 8601 date-time")
        if parsed.tzinfo is None:
            raise FieldError("must include a timezone offset (e.g. Z or +02:00)")
        return parsed.astimezone(datetime.UTC)

    def _parse_decimal(self, value):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FieldError("must be a number")
        try:
            number = decimal.Decimal(str(value))
        except decimal.InvalidOperation as error:
            raise FieldError("must be a number") from error
        if not number.is_finite() or abs(number) >= 10**10:
            raise FieldError("is out of range")
        return number

    def _parse_integer(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError("must be an integer")
        return value

    def _parse_boolean(self, value):
        if not isinstance(value, bool):
            raise FieldError("must be true or false")
        return value

    def _parse_object(self, value):
        if not isinstance(value, dict):
            raise FieldError("must be an object")
        if not self.fields:
            return value
        parsed, errors = {}, []
        for name, spec in self.fields.items():
            if value.get(name) in (None, ""):
                continue
            try:
                parsed[name] = spec.parse(value[name])
            except FieldError as error:
                errors.append(f"{name} {error}")
        if errors:
            raise FieldError("; ".join(errors))
        return parsed

    def _parse_list(self, value):
        if not isinstance(value, list):
            raise FieldError("must be a list")
        return value


STRING = Field("string")
EMAIL = Field("email", "Email address; lower-cased and validated.")
PHONE = Field("phone", "Phone number, any format; stored as E.164 using the club's region.")
DATE = Field("date", "YYYY-MM-DD")
DATETIME = Field("datetime", "ISO 8601 with offset")
DECIMAL = Field("decimal", "Amount as a number or a string")
INTEGER = Field("integer")
BOOLEAN = Field("boolean")


def string(description: str = "", *, choices: tuple[str, ...] = (), max_length: int = 200) -> Field:
    return Field("string", description, choices=choices, max_length=max_length)


def described(base: Field, description: str) -> Field:
    return Field(base.type, description, base.choices, base.max_length, base.fields)
