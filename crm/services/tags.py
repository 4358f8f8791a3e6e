from django.db import transaction

from crm.errors import CrmError, CrmErrorCode, require_in_club
from crm.kernel.actor import Actor
from crm.models import AuditAction, CustomerProfile, ProfileTag, Tag
from crm.services.audit import audit_record
from crm.signals import profiles_changed_after_commit


def tag_get_or_create(*, club, name: str) -> Tag:
    name = " ".join((name or "").split())
    if not name or len(name) > 60:
        raise CrmError(CrmErrorCode.INVALID_TAG, "A tag name needs 1–60 characters.", {"name": name})
    existing = Tag.objects.for_club(club).filter(name__iexact=name).first()
    if existing:
        return existing
    tag, _ = Tag.objects.get_or_create(club=club, name=name)
    return tag


def profiles_tag(*, club, actor: Actor, profile_ids, tag: Tag) -> int:
    """Tag many profiles in one INSERT; profiles already tagged are left alone. Returns rows added.

    Ids from outside are re-read inside the club, so another club's ids are silently dropped.
    The newly tagged profiles are announced after commit (profiles_changed), so segments built on
    the tag take them in at once rather than at the next sweep.
    """
    require_in_club(club, tag)
    ids = list(CustomerProfile.objects.for_club(club).filter(pk__in=list(profile_ids)).values_list("pk", flat=True))
    with transaction.atomic():
        already = set(
            ProfileTag.objects.for_club(club).filter(tag=tag, profile_id__in=ids).values_list("profile_id", flat=True)
        )
        rows = [
            ProfileTag(club=club, profile_id=profile_id, tag=tag, added_by=actor.user)
            for profile_id in ids
            if profile_id not in already
        ]
        ProfileTag.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        profiles_changed_after_commit(club, [row.profile_id for row in rows])
        audit_record(
            club=club,
            actor=actor,
            action=AuditAction.TAG,
            target=tag,
            summary=f"Tagged {len(rows)} profile(s) '{tag.name}'",
            details={"profile_ids": ids[:1000]},
        )
    return len(rows)


def profiles_untag(*, club, actor: Actor, profile_ids, tag: Tag) -> int:
    """Remove the tag from these profiles; the ones that had it are announced after commit, like
    `profiles_tag`."""
    require_in_club(club, tag)
    with transaction.atomic():
        tagged = ProfileTag.objects.for_club(club).filter(tag=tag, profile_id__in=list(profile_ids))
        untagged_ids = list(tagged.values_list("profile_id", flat=True))
        removed, _ = tagged.delete()
        profiles_changed_after_commit(club, untagged_ids)
        audit_record(
            club=club,
            actor=actor,
            action=AuditAction.UNTAG,
            target=tag,
            summary=f"Removed '{tag.name}' from {removed} profile(s)",
        )
    return removed
