"""Identifier normalisation and attachment (SPEC 5).

Emails: trimmed, lower-cased. Phones: E.164 read with the club's default region. Ids: trimmed.
Normalisation is the only gate: two spellings of one key always become one stored value.
"""

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from crm.errors import CrmError, CrmErrorCode
from crm.models import IdentifierKind, ProfileIdentifier
from crm.models.profiles import SHARED_IDENTIFIER_KINDS

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


def identifier_attach(*, club, profile, kind: str, raw_value: str, source: str, seen_at) -> ProfileIdentifier:
    """Link a key to a profile, or refresh its last-seen time if already linked.

    A strong key (anything but email/phone) owned by another profile in the club raises
    IDENTIFIER_TAKEN: the caller decides whether that means a merge. The database constraint,
    not this check, is what holds under concurrent writers.
    """
    value = identifier_normalise(kind=kind, raw_value=raw_value, region=club.default_phone_region)
    existing = ProfileIdentifier.objects.for_club(club).filter(kind=kind, value=value)
    mine = next((row for row in existing if row.profile_id == profile.pk), None)
    if mine is not None:
        if seen_at > mine.last_seen_at:
            ProfileIdentifier.objects.for_club(club).filter(pk=mine.pk).update(last_seen_at=seen_at)
            mine.last_seen_at = seen_at
        return mine
    if kind not in SHARED_IDENTIFIER_KINDS and existing:
        raise CrmError(
            CrmErrorCode.IDENTIFIER_TAKEN,
            f"{kind} {value} already belongs to another profile.",
            {"kind": kind, "profile_id": existing[0].profile_id},
        )
    try:
        with transaction.atomic():
            return ProfileIdentifier.objects.create(
                club=club,
                profile=profile,
                kind=kind,
                value=value,
                source=source,
                first_seen_at=seen_at,
                last_seen_at=seen_at,
            )
    except IntegrityError as error:
        raise CrmError(
            CrmErrorCode.IDENTIFIER_TAKEN,
            f"{kind} {value} was just linked to another profile.",
            {"kind": kind},
        ) from error
