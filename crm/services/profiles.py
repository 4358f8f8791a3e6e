import contextlib

from django.db import transaction
from django.utils import timezone

from crm.errors import CrmError
from crm.identity.identifiers import IdentifierKind, identifier_normalise
from crm.kernel.actor import Actor
from crm.models import AuditAction, CustomerProfile
from crm.services.audit import audit_record
from crm.services.identifiers import identifier_attach
from crm.services.survivorship import stamp
from crm.signals import profiles_changed_after_commit

# What front-desk staff may edit by hand. Membership (SCL), golf (TeeTime) and consent
# (Messaging) fields belong to their source systems and are never edited in the CRM.
STAFF_EDITABLE_FIELDS = (
    "first_name",
    "last_name",
    "primary_email",
    "primary_phone",
    "date_of_birth",
    "gender",
    "address_line",
    "city",
    "postcode",
    "country",
    "locale",
    "timezone",
    "custom_attributes",
)
# What the source systems (and scoring) own: shown everywhere, edited nowhere in the CRM.
SOURCE_OWNED_FIELDS = (
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
    "engagement_score",
    "churn_risk",
)
STAFF_SOURCE = "staff"


def profile_clean_contact(*, club, primary_email: str = "", primary_phone: str = "") -> dict[str, str]:
    """Normalise the contact fields as identifiers are normalised; raises CrmError on bad input."""
    cleaned = {}
    if primary_email:
        cleaned["primary_email"] = identifier_normalise(
            kind=IdentifierKind.EMAIL, raw_value=primary_email, region=club.default_phone_region
        )
    if primary_phone:
        cleaned["primary_phone"] = identifier_normalise(
            kind=IdentifierKind.PHONE, raw_value=primary_phone, region=club.default_phone_region
        )
    return cleaned


@transaction.atomic
def profile_save_by_staff(*, club, actor: Actor, profile: CustomerProfile, changed_fields) -> CustomerProfile:
    """Save a staff edit (new profile or changed fields) with survivorship bookkeeping.

    A staff edit outranks every source (SPEC 4), so each changed field is stamped with source
    "staff" and the time; contact fields also become identifiers so later events can find the
    person by them. The audit row lists the fields changed, not their values. A new or changed
    profile is announced after commit (profiles_changed), so segments follow the edit at once.
    """
    changed = [name for name in changed_fields if name in STAFF_EDITABLE_FIELDS]
    is_new = profile.pk is None
    profile.club = club
    now = timezone.now()
    sources = dict(profile.field_sources or {})
    for name in changed:
        sources[name] = {"source": STAFF_SOURCE, "at": stamp(now)}
    profile.field_sources = sources
    profile.save()
    for kind, field_name in (
        (IdentifierKind.EMAIL, "primary_email"),
        (IdentifierKind.PHONE, "primary_phone"),
    ):
        value = getattr(profile, field_name)
        if field_name in changed and value:
            # A shared email/phone is allowed; an invalid value was already refused by the form.
            with contextlib.suppress(CrmError):
                identifier_attach(club=club, profile=profile, kind=kind, raw_value=value, source="crm", seen_at=now)
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.PROFILE_UPDATE,
        target=profile,
        summary=("Created profile" if is_new else f"Edited {', '.join(changed) or 'nothing'}"),
        details={"fields": changed},
    )
    if is_new or changed:
        profiles_changed_after_commit(club, [profile.pk])
    return profile
