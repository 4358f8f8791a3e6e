"""Creating, editing and deleting segments, and hand-picking static members (SPEC 8).

Every change is validated before anything is written, audited in the same transaction, and
scoped to one club. A rule is checked twice over: the grammar (every error with its path) and
its references (segments it builds on must exist in this club and must not lead back to itself).
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode, require_in_club
from crm.kernel.actor import Actor
from crm.models import AuditAction, CustomerProfile
from crm.services.audit import audit_record
from crm.services.exports import profiles_export_csv
from crm.signals import profiles_changed_after_commit
from marketing.errors import MarketingError, MarketingErrorCode
from marketing.models import Segment, SegmentChange, SegmentChangeKind, SegmentKind, SegmentMember
from marketing.services.rules.grammar import rule_conditions, rule_validate, segment_references
from marketing.services.segments import segments_lock
from marketing.tasks import refresh_segment

MAX_NAME = 80
MAX_HAND_PICKED = 10_000


@dataclass(frozen=True)
class MembersChange:
    changed: int  # profiles actually added (or removed); ones already there (or absent) are skipped
    member_count: int

    def summary(self) -> str:
        return f"{self.changed:,} profile(s) changed; {self.member_count:,} members now"


def segment_create(
    *, club, actor: Actor, name: str, kind: str = SegmentKind.DYNAMIC, rule=None, description: str = "",
    sync_to_messaging: bool = False,
) -> Segment:
    """A new segment. A dynamic one's members are filled by the refresh queued after commit."""
    name = _clean_name(name)
    if kind not in SegmentKind.values:
        raise MarketingError(
            MarketingErrorCode.INVALID_SEGMENT, f"kind must be one of {', '.join(SegmentKind.values)}."
        )
    with transaction.atomic():
        segments_lock(club, segment_references(rule))
        segment_rule_check(club, kind=kind, rule=rule, segment=None)
        _check_name_free(club, name, exclude=None)
        try:
            with transaction.atomic():
                segment = Segment.objects.create(
                    club=club, name=name, kind=kind, rule=rule if kind == SegmentKind.DYNAMIC else None,
                    description=description or "", sync_to_messaging=sync_to_messaging,
                    created_by=actor.user,
                )
        except IntegrityError as error:  # a concurrent create of the same name won the race
            raise _name_taken(name) from error
        audit_record(
            club=club, actor=actor, action=AuditAction.SEGMENT_CREATE, target=segment,
            summary=f"Created {kind} segment '{name}'", details={"rule": segment.rule},
        )
        _refresh_after_commit(segment)
    return segment


def segment_update(
    *, club, actor: Actor, segment: Segment, **changes
) -> Segment:
    """Change name, description, rule or the sync flag; a changed rule refreshes after commit."""
    allowed = {"name", "description", "rule", "sync_to_messaging"}
    if unknown := set(changes) - allowed - {"kind"}:
        raise MarketingError(
            MarketingErrorCode.INVALID_SEGMENT, f"These can't be changed: {', '.join(sorted(unknown))}."
        )
    if "kind" in changes and changes["kind"] != segment.kind:
        raise MarketingError(
            MarketingErrorCode.INVALID_SEGMENT,
            "A segment's kind can't change; make a new segment instead.",
            {"kind": segment.kind},
        )
    require_in_club(club, segment)
    if "name" in changes:
        changes["name"] = _clean_name(changes["name"])
    with transaction.atomic():
        segments_lock(club, {segment.pk} | segment_references(changes.get("rule")))
        locked = Segment.objects.for_club(club).get(pk=segment.pk)
        if "rule" in changes:
            segment_rule_check(club, kind=segment.kind, rule=changes["rule"], segment=segment)
        if "name" in changes and changes["name"] != locked.name:
            _check_name_free(club, changes["name"], exclude=locked.pk)
        before = {field: getattr(locked, field) for field in changes}
        for field, value in changes.items():
            setattr(locked, field, value)
        try:
            with transaction.atomic():
                locked.save(update_fields=[*changes, "updated_at"] if changes else ["updated_at"])
        except IntegrityError as error:
            raise _name_taken(changes.get("name", locked.name)) from error
        changed = sorted(field for field in changes if before[field] != changes[field])
        audit_record(
            club=club, actor=actor, action=AuditAction.SEGMENT_UPDATE, target=locked,
            summary=f"Edited segment '{locked.name}'" + (f" ({', '.join(changed)})" if changed else ""),
            details={"changed": changed, "before": {field: before[field] for field in changed}},
        )
        if "rule" in changed:
            _refresh_after_commit(locked)
    return locked


def segment_delete(*, club, actor: Actor, segment: Segment) -> None:
    """Delete a segment and its membership; refused while another segment's rule refers to it."""
    require_in_club(club, segment)
    with transaction.atomic():
        # Locked first, so an edit that starts referring to this segment either finishes before
        # (and is seen below) or waits and then finds the segment gone.
        segments_lock(club, {segment.pk})
        if users := segments_built_on(club=club, segment=segment):
            raise MarketingError(
                MarketingErrorCode.INVALID_SEGMENT,
                f"Other segments build on this one: {', '.join(users)}. Change them first.",
                {"used_by": users},
            )
        audit_record(
            club=club, actor=actor, action=AuditAction.SEGMENT_DELETE, target=segment,
            summary=f"Deleted segment '{segment.name}' ({segment.member_count} members)",
            details={"rule": segment.rule, "kind": segment.kind},
        )
        Segment.objects.for_club(club).filter(pk=segment.pk).delete()


def segments_built_on(*, club, segment: Segment) -> list[str]:
    """The names of the club's segments whose rules refer to this one (what a delete would break)."""
    others = Segment.objects.for_club(club).filter(kind=SegmentKind.DYNAMIC).exclude(pk=segment.pk)
    return sorted(other.name for other in others.only("name", "rule") if segment.pk in segment_references(other.rule))


def segment_members_add(
    *, club, actor: Actor, segment: Segment, profile_ids
) -> MembersChange:
    """Hand-pick profiles into a static segment (ids of other clubs or merged-away profiles are
    dropped); each newcomer gets an `entered` change, like a rule refresh would record."""
    ids = _hand_picked_ids(club, segment, profile_ids)
    now = timezone.now()
    with transaction.atomic():
        segments_lock(club, {segment.pk})
        live = set(
            CustomerProfile.objects.for_club(club)
            .filter(pk__in=ids, merged_into__isnull=True, is_erased=False)
            .values_list("pk", flat=True)
        )
        already = set(
            SegmentMember.objects.for_club(club).filter(segment=segment, profile_id__in=live)
            .values_list("profile_id", flat=True)
        )
        newcomers = sorted(live - already)
        SegmentMember.objects.bulk_create(
            [SegmentMember(club=club, segment=segment, profile_id=pk, entered_at=now) for pk in newcomers],
            batch_size=1000,
        )
        return _members_changed(club, actor, segment, newcomers, SegmentChangeKind.ENTERED, now)


def segment_members_remove(
    *, club, actor: Actor, segment: Segment, profile_ids
) -> MembersChange:
    ids = _hand_picked_ids(club, segment, profile_ids)
    now = timezone.now()
    with transaction.atomic():
        segments_lock(club, {segment.pk})
        leaving = SegmentMember.objects.for_club(club).filter(segment=segment, profile_id__in=ids)
        leavers = sorted(leaving.values_list("profile_id", flat=True))
        leaving.delete()
        return _members_changed(club, actor, segment, leavers, SegmentChangeKind.EXITED, now)


def segment_members_export_csv(*, club, actor: Actor, segment: Segment):
    """The segment's members as CSV lines, audited like every export of personal data."""
    require_in_club(club, segment)
    members = CustomerProfile.objects.for_club(club).filter(
        pk__in=SegmentMember.objects.for_club(club).filter(segment=segment).values("profile_id")
    )
    return profiles_export_csv(
        club=club, actor=actor, queryset=members,
        source={"segment_id": segment.pk, "segment": segment.name},
    )


def segment_rule_check(club, *, kind: str = SegmentKind.DYNAMIC, rule, segment: Segment | None = None) -> None:
    """Refuses (MarketingError invalid_rule, every problem with its path) a rule that is malformed, refers
    to a segment this club lacks, or would lead back to `segment`."""
    if kind == SegmentKind.STATIC:
        if rule not in (None, {}):
            raise MarketingError(MarketingErrorCode.INVALID_RULE, "A static segment is hand-picked; it has no rule.")
        return
    if rule is None:
        raise MarketingError(MarketingErrorCode.INVALID_RULE, "A dynamic segment needs a rule.", {"errors": []})
    errors = rule_validate(rule)
    if errors:
        raise MarketingError(
            MarketingErrorCode.INVALID_RULE,
            f"The rule has {len(errors)} problem(s).",
            {"errors": [{"path": error.path, "message": error.message} for error in errors]},
        )
    referenced = segment_references(rule)
    if not referenced:
        return
    rules = dict(Segment.objects.for_club(club).values_list("pk", "rule"))
    missing = [
        {"path": f"{path}.segment", "message": f"No segment {node['segment']} in this club."}
        for path, node in rule_conditions(rule)
        if "segment" in node and node["segment"] not in rules
    ]
    if missing:
        raise MarketingError(
            MarketingErrorCode.INVALID_RULE,
            "The rule refers to segments that don't exist in this club.",
            {"errors": missing},
        )
    if segment is not None and _leads_back(segment.pk, referenced, rules):
        raise MarketingError(
            MarketingErrorCode.INVALID_RULE,
            "The rule would make this segment depend on itself.",
            {"errors": [{"path": "$", "message": "Segment references form a cycle back to this segment."}]},
        )


def _leads_back(start: int, referenced: set[int], rules: dict) -> bool:
    seen, stack = set(), list(referenced)
    while stack:
        current = stack.pop()
        if current == start:
            return True
        if current in seen:
            continue
        seen.add(current)
        stack.extend(segment_references(rules.get(current)))
    return False


def _hand_picked_ids(club, segment, profile_ids) -> list[int]:
    require_in_club(club, segment)
    if segment.kind != SegmentKind.STATIC:
        raise CrmError(
            CrmErrorCode.NOT_PERMITTED, "Profiles are added to a rule-based segment by its rule, not by hand."
        )
    try:
        ids = sorted({int(pk) for pk in profile_ids})
    except (TypeError, ValueError) as error:
        raise MarketingError(MarketingErrorCode.INVALID_SEGMENT, "Profile ids are whole numbers.") from error
    if not ids or len(ids) > MAX_HAND_PICKED:
        raise MarketingError(MarketingErrorCode.INVALID_SEGMENT, f"Give 1 to {MAX_HAND_PICKED:,} profile ids.")
    return ids


def _members_changed(club, actor: Actor, segment, profile_ids, change, now) -> MembersChange:
    """After hand-picking: the entered/exited records a refresh would write, the new count, the audit row."""
    SegmentChange.objects.bulk_create(
        [SegmentChange(club=club, segment=segment, profile_id=pk, change=change, at=now) for pk in profile_ids],
        batch_size=1000,
    )
    entered = change == SegmentChangeKind.ENTERED
    count = SegmentMember.objects.for_club(club).filter(segment=segment).count()  # hand-picked lists are short
    Segment.objects.for_club(club).filter(pk=segment.pk).update(member_count=count)
    segment.member_count = count
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.SEGMENT_MEMBERS_ADD if entered else AuditAction.SEGMENT_MEMBERS_REMOVE,
        target=segment,
        summary=f"{'Added' if entered else 'Removed'} {len(profile_ids)} profile(s) "
        f"{'to' if entered else 'from'} '{segment.name}'",
        details={"profile_ids": list(profile_ids)[:1000]},
    )
    profiles_changed_after_commit(club, profile_ids)  # segments built on this list follow it for these people
    return MembersChange(len(profile_ids), count)


def _refresh_after_commit(segment: Segment) -> None:
    if segment.kind != SegmentKind.DYNAMIC:
        return
    transaction.on_commit(lambda: refresh_segment.delay(segment.club_id, segment.pk), robust=True)


def _clean_name(name) -> str:
    name = " ".join(str(name or "").split())
    if not name or len(name) > MAX_NAME:
        raise MarketingError(
            MarketingErrorCode.INVALID_SEGMENT, f"A segment name needs 1–{MAX_NAME} characters.", {"name": name}
        )
    return name


def _check_name_free(club, name: str, *, exclude) -> None:
    taken = Segment.objects.for_club(club).filter(name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise _name_taken(name)


def _name_taken(name: str) -> MarketingError:
    return MarketingError(
        MarketingErrorCode.SEGMENT_NAME_TAKEN, f"There is already a segment called '{name}'.", {"name": name}
    )
