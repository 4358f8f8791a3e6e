"""Identifier attachment (SPEC 5): a normalised key linked to a profile, once per club for strong keys."""

from django.db import IntegrityError, transaction

from crm.errors import CrmError, CrmErrorCode
from crm.identity.identifiers import SHARED_IDENTIFIER_KINDS, identifier_normalise
from crm.models import ProfileIdentifier


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
