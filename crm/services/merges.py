"""Merging two profiles into one, and undoing it exactly (SPEC 5).

Every table that points at a profile follows the survivor through one mechanism: the foreign
keys to `CustomerProfile` are discovered from the model registry, so a relation a later feature
adds (segment memberships, campaign recipients, journey enrolments) is carried along without
registering anything. A row whose twin the survivor already has (the same tag, the same email)
would break a unique constraint if moved; it is removed and kept in the merge record instead.
The record holds both profiles' fields as they were, the ids of every moved row and the removed
rows whole, so an unmerge puts everything back where it was, ids included.
"""

import json

from django.core import serializers
from django.db import transaction
from django.db.models import ForeignKey, UniqueConstraint
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode
from crm.identity.identifiers import SHARED_IDENTIFIER_KINDS
from crm.kernel.actor import Actor
from crm.kernel.bulk import json_default
from crm.models import (
    AuditAction,
    CustomerProfile,
    MergeRecord,
    MergeSuggestion,
    ProfileIdentifier,
    SuggestionStatus,
)
from crm.services.audit import audit_record
from crm.services.survivorship import may_overwrite
from crm.signals import profiles_changed_after_commit

# Relations that describe merges rather than belong to the person: they never move.
NOT_CARRIED = {("crm", "mergerecord"), ("crm", "mergesuggestion"), ("crm", "customerprofile")}
# Profile columns a merge never takes from the merged profile.
NOT_MERGED_FIELDS = {"id", "club", "created_at", "updated_at", "merged_into", "is_erased", "erased_at", "field_sources"}
CONSENT_FIELDS = ("email_opt_in", "sms_opt_in", "push_opt_in", "whatsapp_opt_in", "consent_updated_at")


def merge_survivor(first: CustomerProfile, second: CustomerProfile) -> tuple[CustomerProfile, CustomerProfile]:
    """(survivor, merged): the SCL-backed profile survives, else the older one."""
    backed = set(
        ProfileIdentifier.objects.for_club(first.club_id)
        .filter(profile_id__in=[first.pk, second.pk], kind="scl_member_id")
        .values_list("profile_id", flat=True)
    )
    ranked = sorted((first, second), key=lambda profile: (profile.pk not in backed, profile.created_at, profile.pk))
    return ranked[0], ranked[1]


@transaction.atomic
def profiles_merge(
    *, club, actor: Actor, first_id: int, second_id: int, reason: str, score=None, evidence=None
) -> MergeRecord | None:
    """Merge two profiles of `club`; the survivor is chosen by `merge_survivor`. None if already one."""
    first, second = _lock_live(club, first_id, second_id)
    if first.pk == second.pk:
        return None
    survivor, merged = merge_survivor(first, second)
    conflict = _strong_id_conflict(club, survivor.pk, merged.pk)
    if conflict:
        raise CrmError(
            CrmErrorCode.MERGE_REFUSED,
            f"#{survivor.pk} and #{merged.pk} hold different {conflict} values: they are two people.",
        )

    record = MergeRecord(
        club=club,
        survivor=survivor,
        merged=merged,
        reason=reason,
        score=score,
        evidence=evidence or {},
        merged_by=actor.user,
        snapshot={"survivor": _fields_of(survivor), "merged": _fields_of(merged)},
    )
    record.moved, record.removed = _carry_relations(club, survivor.pk, merged.pk)
    _merge_fields(survivor, merged)
    survivor.save()
    merged.merged_into = survivor
    merged.save(update_fields=["merged_into", "updated_at"])
    record.save()
    MergeSuggestion.objects.for_club(club).filter(
        profile_a_id=min(survivor.pk, merged.pk), profile_b_id=max(survivor.pk, merged.pk)
    ).update(status=SuggestionStatus.ACCEPTED, decided_at=timezone.now(), decided_by=actor.user)
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.PROFILE_MERGE,
        target=survivor,
        summary=f"Merged #{merged.pk} into #{survivor.pk} ({record.get_reason_display()})",
        details={"merge": record.pk, "merged": merged.pk, "score": score},
    )
    profiles_changed_after_commit(club, [survivor.pk, merged.pk])  # one left the live profiles
    return record


@transaction.atomic
def merge_undo(*, club, actor: Actor, record_id: int) -> MergeRecord:
    """Put both profiles back exactly as they were before the merge, related rows included."""
    record = MergeRecord.objects.for_club(club).select_for_update().get(pk=record_id)
    if record.undone_at:
        raise CrmError(CrmErrorCode.MERGE_REFUSED, "This merge was already undone.")
    # Same lock order as a merge (ids ascending), so an unmerge and a merge of the same
    # profiles queue behind each other instead of deadlocking.
    profiles = {
        profile.pk: profile
        for profile in CustomerProfile.objects.for_club(club)
        .filter(pk__in=[record.survivor_id, record.merged_id])
        .select_for_update()
        .order_by("pk")
    }
    survivor, merged = profiles[record.survivor_id], profiles[record.merged_id]
    if survivor.merged_into_id:
        raise CrmError(
            CrmErrorCode.MERGE_REFUSED,
            f"#{survivor.pk} was itself merged into #{survivor.merged_into_id} since; undo that merge first.",
        )
    if merged.merged_into_id != survivor.pk:
        raise CrmError(CrmErrorCode.MERGE_REFUSED, f"#{merged.pk} is no longer merged into #{survivor.pk}.")

    for label, ids in record.moved.items():
        model, fk = _relation(label)
        model._base_manager.filter(pk__in=ids, **{fk.attname: survivor.pk}).update(**{fk.attname: merged.pk})
    for item in serializers.deserialize("json", _as_json(record.removed)):
        item.save()  # the removed row, with its original id, back on the merged profile
    _restore_fields(survivor, record.snapshot["survivor"])
    _restore_fields(merged, record.snapshot["merged"])
    survivor.save()
    merged.save()
    record.undone_at, record.undone_by = timezone.now(), actor.user
    record.save(update_fields=["undone_at", "undone_by"])
    # Undoing a merge says "these are two people": record it as a rejected pair, so neither the
    # review queue nor the next event joins them again.
    MergeSuggestion.objects.for_club(club).update_or_create(
        club=club,
        profile_a_id=min(survivor.pk, merged.pk),
        profile_b_id=max(survivor.pk, merged.pk),
        defaults={
            "status": SuggestionStatus.REJECTED,
            "decided_at": record.undone_at,
            "decided_by": actor.user,
            "score": record.score or 0.0,
            "evidence": record.evidence or {},
        },
    )
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.PROFILE_UNMERGE,
        target=survivor,
        summary=f"Undid the merge of #{merged.pk} into #{survivor.pk}",
        details={"merge": record.pk},
    )
    profiles_changed_after_commit(club, [survivor.pk, merged.pk])  # one came back: segments follow now
    return record


def live_profile_id(club, profile_id: int) -> int:
    """Follow `merged_into` to the profile that holds the person now."""
    seen = set()
    while profile_id not in seen:
        seen.add(profile_id)
        target = (
            CustomerProfile.objects.for_club(club)
            .filter(pk=profile_id)
            .values_list("merged_into_id", flat=True)
            .first()
        )
        if not target:
            return profile_id
        profile_id = target
    return profile_id


def live_profile_ids(club, profile_ids, *, chunk: int = 2000) -> list[int]:
    """`live_profile_id` for many ids at once: the club's live profiles holding the people
    `profile_ids` name, ascending. A merged-away id is followed to its survivor (one query per
    `chunk` ids per merge step, not one per id); ids of other clubs, or of no profile, are dropped."""
    live, seen, looking = set(), set(), {int(profile_id) for profile_id in profile_ids}
    while looking:
        seen |= looking
        ids, looking = sorted(looking), set()
        for start in range(0, len(ids), chunk):
            found = CustomerProfile.objects.for_club(club).filter(pk__in=ids[start : start + chunk])
            for profile_id, merged_into_id in found.values_list("pk", "merged_into_id"):
                if merged_into_id is None:
                    live.add(profile_id)
                else:
                    looking.add(merged_into_id)
        looking -= seen
    return sorted(live)


# --- Internals ------------------------------------------------------------------------------


def _lock_live(club, first_id: int, second_id: int) -> tuple[CustomerProfile, CustomerProfile]:
    """Lock both profiles (ids ascending) and follow merges to the live ones.

    The row locks are what keep two concurrent merges touching the same profile from losing
    rows: the second waits, then sees `merged_into` set by the first and merges into the
    survivor instead of into a profile that has just been emptied.
    """
    while True:
        ids = sorted({first_id, second_id})
        locked = {
            profile.pk: profile
            for profile in CustomerProfile.objects.for_club(club).filter(pk__in=ids).select_for_update().order_by("pk")
        }
        if len(locked) != len(ids):
            raise CrmError(CrmErrorCode.NOT_FOUND, "Profile not found in this club.")
        first, second = locked[first_id], locked[second_id]
        if not first.merged_into_id and not second.merged_into_id:
            return first, second
        first_id = live_profile_id(club, first_id)
        second_id = live_profile_id(club, second_id)


def _strong_id_conflict(club, survivor_id: int, merged_id: int) -> str | None:
    held: dict[int, dict[str, set[str]]] = {survivor_id: {}, merged_id: {}}
    rows = (
        ProfileIdentifier.objects.for_club(club)
        .filter(profile_id__in=[survivor_id, merged_id])
        .exclude(kind__in=SHARED_IDENTIFIER_KINDS)
        .exclude(kind="legacy_id")  # two legacy systems' ids for one person are expected
        .values_list("profile_id", "kind", "value")
    )
    for profile_id, kind, value in rows:
        held[profile_id].setdefault(kind, set()).add(value)
    for kind, values in held[survivor_id].items():
        if kind in held[merged_id] and values != held[merged_id][kind]:
            return kind
    return None


def _carried_relations():
    for relation in CustomerProfile._meta.related_objects:
        model = relation.related_model
        if (model._meta.app_label, model._meta.model_name) in NOT_CARRIED:
            continue
        if isinstance(relation.field, ForeignKey):
            yield model, relation.field


def _relation(label: str):
    for model, fk in _carried_relations():
        if f"{model._meta.label_lower}.{fk.name}" == label:
            return model, fk
    raise CrmError(CrmErrorCode.MERGE_REFUSED, f"Unknown relation {label} in a merge record.")


def _carry_relations(club, survivor_id: int, merged_id: int) -> tuple[dict, list]:
    moved: dict[str, list] = {}
    removed: list = []
    for model, fk in _carried_relations():
        manager = model._base_manager
        rows = manager.filter(**{fk.attname: merged_id})
        if not rows.exists():
            continue
        twins = _twins(model, fk, survivor_id, merged_id)
        if twins:
            removed.extend(serializers.serialize("python", manager.filter(pk__in=twins)))
            manager.filter(pk__in=twins).delete()
        ids = list(rows.values_list("pk", flat=True))
        manager.filter(pk__in=ids).update(**{fk.attname: survivor_id})
        moved[f"{model._meta.label_lower}.{fk.name}"] = ids
    return moved, _jsonable(removed)


def _twins(model, fk, survivor_id: int, merged_id: int) -> list:
    """Rows of the merged profile that a unique constraint forbids moving (the survivor has one)."""
    twins = set()
    for fields in _unique_field_sets(model):
        if fk.name not in fields:
            continue
        others = [model._meta.get_field(name).attname for name in fields if name != fk.name]
        survivor_values = set(model._base_manager.filter(**{fk.attname: survivor_id}).values_list(*others))
        for pk, *values in model._base_manager.filter(**{fk.attname: merged_id}).values_list("pk", *others):
            if tuple(values) in survivor_values:
                twins.add(pk)
    return sorted(twins)


def _unique_field_sets(model):
    for constraint in model._meta.constraints:
        if isinstance(constraint, UniqueConstraint) and constraint.fields and constraint.condition is None:
            yield tuple(constraint.fields)
    for fields in model._meta.unique_together:
        yield tuple(fields)


def _jsonable(value):
    return json.loads(json.dumps(value, default=json_default))


def _as_json(rows: list) -> str:
    return json.dumps(rows)


def _fields_of(profile: CustomerProfile) -> dict:
    return _jsonable(
        {
            field.attname: field.value_from_object(profile)
            for field in profile._meta.concrete_fields
            if field.name not in ("id", "club")
        }
    )


def _restore_fields(profile: CustomerProfile, values: dict) -> None:
    for field in profile._meta.concrete_fields:
        if field.attname in values:
            value = values[field.attname]
            setattr(profile, field.attname, value if value is None else field.to_python(value))


def _merge_fields(survivor: CustomerProfile, merged: CustomerProfile) -> None:
    """Field by field, the value survivorship prefers; counters add up; consent follows the newest."""
    sources = dict(survivor.field_sources or {})
    merged_sources = merged.field_sources or {}
    for field in CustomerProfile._meta.concrete_fields:
        name = field.name
        if name in NOT_MERGED_FIELDS or name in CONSENT_FIELDS or name in ("rounds_played", "last_round_at"):
            continue
        theirs = getattr(merged, field.attname)
        if theirs in (None, "", {}, []):
            continue
        mine = getattr(survivor, field.attname)
        stamp = merged_sources.get(name)
        takes_over = mine in (None, "", {}, []) or (
            stamp and may_overwrite(sources.get(name), source=stamp["source"], at=_parse_stamp(stamp["at"]))
        )
        if not takes_over:
            continue
        setattr(survivor, field.attname, theirs)
        if stamp:
            sources[name] = stamp
    survivor.rounds_played = (survivor.rounds_played or 0) + (merged.rounds_played or 0)
    if merged.last_round_at and (not survivor.last_round_at or merged.last_round_at > survivor.last_round_at):
        survivor.last_round_at = merged.last_round_at
    if merged.consent_updated_at and (
        not survivor.consent_updated_at or merged.consent_updated_at > survivor.consent_updated_at
    ):
        for name in CONSENT_FIELDS:
            setattr(survivor, name, getattr(merged, name))
    survivor.custom_attributes = {**(merged.custom_attributes or {}), **(survivor.custom_attributes or {})}
    survivor.field_sources = sources


def _parse_stamp(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))
