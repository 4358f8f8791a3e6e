from django.db import IntegrityError, transaction

from crm.errors import CrmError, CrmErrorCode, require_in_club
from crm.kernel.actor import Actor
from crm.models import AuditAction, CustomerProfile, ProfileTag, Tag
from crm.services.audit import audit_changes, audit_record
from crm.signals import profiles_changed_after_commit


def _tag_name(name: str) -> str:
    """The name as stored: whitespace collapsed, 1-60 characters."""
    name = " ".join((name or "").split())
    if not name or len(name) > 60:
        raise CrmError(CrmErrorCode.INVALID_TAG, "A tag name needs 1–60 characters.", {"name": name})
    return name


def _name_taken(name: str) -> CrmError:
    return CrmError(CrmErrorCode.INVALID_TAG, f"There is already a tag called '{name}'.", {"name": name})


def tag_name_check(*, club, name: str, tag: Tag | None = None) -> str:
    """The cleaned name, refused (invalid_tag) when empty, too long, or another tag of the club
    already has it in any case. `tag` is the one being renamed, which may keep its own name."""
    name = _tag_name(name)
    taken = Tag.objects.for_club(club).filter(name__iexact=name)
    if tag is not None:
        taken = taken.exclude(pk=tag.pk)
    if taken.exists():
        raise _name_taken(name)
    return name


def tag_named(*, club, name: str) -> Tag | None:
    """The club's tag by this name in any case (whitespace collapsed), or None; a name no tag
    could have is refused (invalid_tag)."""
    return Tag.objects.for_club(club).filter(name__iexact=_tag_name(name)).first()


def tag_get_or_create(*, club, actor: Actor, name: str) -> Tag:
    """The club's tag by this name in any case, or a new one made (and audited) by `tag_create`.
    Two callers creating the same new name at once both end up with the one tag."""
    name = _tag_name(name)
    existing = tag_named(club=club, name=name)
    if existing:
        return existing
    try:
        return tag_create(club=club, actor=actor, name=name)
    except CrmError:  # created meanwhile by someone else: theirs is the tag
        return Tag.objects.for_club(club).get(name__iexact=name)


def tag_create(*, club, actor: Actor, name: str, color: str = "") -> Tag:
    """A new tag, named as no other tag of the club is (in any case)."""
    name = tag_name_check(club=club, name=name)
    with transaction.atomic():
        try:
            with transaction.atomic():  # the savepoint a lost race on uniq_tag_club_name rolls back to
                tag = Tag.objects.create(club=club, name=name, **({"color": color} if color else {}))
        except IntegrityError:
            raise _name_taken(name) from None
        audit_record(club=club, actor=actor, action=AuditAction.TAG_CREATE, target=tag, summary=f"Tag '{name}'")
    return tag


def tag_update(*, club, actor: Actor, tag: Tag, name: str, color: str) -> Tag:
    """Rename or recolour a tag. Segment rules match tags by name, so a rename announces the
    profiles carrying the tag after commit: segments on the old or the new name follow at once."""
    require_in_club(club, tag)
    name = tag_name_check(club=club, name=name, tag=tag)
    with transaction.atomic():
        # The stored row, not the object handed in (a form's instance already carries the edit);
        # locked so two edits racing each other each record the [before, after] they made.
        tag = Tag.objects.for_club(club).select_for_update().get(pk=tag.pk)
        after = {"name": name, "color": color or tag.color}
        changed = audit_changes({"name": tag.name, "color": tag.color}, after)
        if not changed:
            return tag
        tag.name, tag.color = after["name"], after["color"]
        try:
            with transaction.atomic():  # a rename racing another to the same name loses here
                tag.save(update_fields=list(changed))
        except IntegrityError:
            raise _name_taken(name) from None
        if "name" in changed:
            tagged = ProfileTag.objects.for_club(club).filter(tag=tag).values_list("profile_id", flat=True)
            profiles_changed_after_commit(club, list(tagged))
        audit_record(
            club=club, actor=actor, action=AuditAction.TAG_UPDATE, target=tag, summary=f"Tag '{name}'", details=changed
        )
    return tag


def tag_delete(*, club, actor: Actor, tag: Tag) -> int:
    """Delete a tag and take it off every profile; those profiles are announced after commit, so
    segments on the tag let them go at once. Returns how many profiles carried it."""
    require_in_club(club, tag)
    with transaction.atomic():
        # Locked before its profiles are read: a tagging that commits in between would otherwise
        # have its rows deleted unannounced. A tagger's commit waits on the lock (its rows reference
        # the tag) and then fails on the deleted tag.
        tag = Tag.objects.for_club(club).select_for_update().get(pk=tag.pk)
        tagged_ids = list(ProfileTag.objects.for_club(club).filter(tag=tag).values_list("profile_id", flat=True))
        audit_record(
            club=club,
            actor=actor,
            action=AuditAction.TAG_DELETE,
            target=tag,
            summary=f"Deleted tag '{tag.name}' from {len(tagged_ids)} profile(s)",
            details={"profile_ids": tagged_ids[:1000]},
        )
        ProfileTag.objects.for_club(club).filter(tag=tag).delete()
        Tag.objects.for_club(club).filter(pk=tag.pk).delete()
        profiles_changed_after_commit(club, tagged_ids)
    return len(tagged_ids)


def profiles_tag_named(*, club, actor: Actor, name: str, profile_ids, remove: bool = False) -> tuple[Tag | None, int]:
    """Tag these profiles with the tag of this name, made (and audited) if the club has none; or,
    with `remove`, untag them. Removing a name no tag has changes nothing and creates nothing (the
    tag is then None). Returns the tag and how many profiles changed. The one way the edges (REST,
    GraphQL, the admin's bulk actions) change tags by name."""
    if remove:
        tag = tag_named(club=club, name=name)
        return tag, (profiles_untag(club=club, actor=actor, profile_ids=profile_ids, tag=tag) if tag else 0)
    tag = tag_get_or_create(club=club, actor=actor, name=name)
    return tag, profiles_tag(club=club, actor=actor, profile_ids=profile_ids, tag=tag)


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
