"""Identifier kinds and their normalisation (SPEC 5).

Emails: trimmed, lower-cased. Phones: E.164 read with the club's default region. Ids: trimmed.
Normalisation is the only gate: two spellings of one key always become one stored value.
"""

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models

from crm.errors import CrmError, CrmErrorCode


class IdentifierKind(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    SCL_MEMBER_ID = "scl_member_id", "SCL member id"
    TEETIME_PLAYER_ID = "teetime_player_id", "TeeTime player id"
    MESSAGING_CONTACT_ID = "messaging_contact_id", "Messaging contact id"
    HANDICAP_ID = "handicap_id", "Handicap (golf registration) id"
    LEGACY_ID = "legacy_id", "MCA v1 legacy id"


# Families and couples share these at golf clubs, so one value may belong to several profiles
# (SPEC 5). Every other kind, including custom kinds, is a strong key: one owner per club.
SHARED_IDENTIFIER_KINDS = frozenset({IdentifierKind.EMAIL, IdentifierKind.PHONE})


CUSTOM_KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def identifier_normalise(*, kind: str, raw_value: str, region: str) -> str:
    """Return the canonical form of a key, or raise CrmError(INVALID_IDENTIFIER)."""
    value = (raw_value or "").strip()
    if not value:
        raise CrmError(CrmErrorCode.INVALID_IDENTIFIER, f"{kind} is empty.", {"kind": kind})
    if kind == IdentifierKind.EMAIL:
        value = value.lower()
        try:
            validate_email(value)
        except ValidationError as error:
            raise CrmError(
                CrmErrorCode.INVALID_IDENTIFIER, f"'{raw_value}' is not an email address.", {"kind": kind}
            ) from error
        return value
    if kind == IdentifierKind.PHONE:
        return phone_to_e164(raw_value, region=region)
    if not CUSTOM_KIND_PATTERN.match(kind):
        raise CrmError(
            CrmErrorCode.INVALID_IDENTIFIER,
            f"'{kind}' is not an identifier kind (use lower_snake_case).",
            {"kind": kind},
        )
    if len(value) > 254:
        raise CrmError(CrmErrorCode.INVALID_IDENTIFIER, f"{kind} is longer than 254 characters.", {"kind": kind})
    return value


def phone_to_e164(raw_value: str, *, region: str) -> str:
    try:
        number = phonenumbers.parse(raw_value, region.upper() if region else None)
    except phonenumbers.NumberParseException as error:
        raise CrmError(
            CrmErrorCode.INVALID_IDENTIFIER, f"'{raw_value}' is not a phone number.", {"kind": "phone"}
        ) from error
    if not phonenumbers.is_valid_number(number):
        raise CrmError(
            CrmErrorCode.INVALID_IDENTIFIER,
            f"'{raw_value}' is not a valid phone number for region {region}.",
            {"kind": "phone"},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
