"""Staff decisions on merge suggestions: accept (merge the pair) or reject (never suggest it again).

A suggestion names two profiles as they were when it was scored. By the time staff review it,
either profile may have been merged into a third one (an event or an import linked it, or
another suggestion was accepted). The rule here: a suggestion is about two *people*, so it
follows each profile to the profile that holds that person now (`live_profile_id`).

- Accepting merges the two live profiles. If they have meanwhile become one profile, nothing is
  merged, the suggestion is closed as accepted and `None` is returned: the staff member's
  judgement (same person) already holds.
- Rejecting a pair that has meanwhile become one profile is refused: "not the same person"
  would contradict the data, and undoing the merge that joined them is the way to split them.
- A suggestion involving an erased profile cannot be accepted; it may be rejected.
"""

from django.db import transaction
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode
from crm.kernel.actor import Actor
from crm.models import AuditAction, CustomerProfile, MergeReason, MergeRecord, MergeSuggestion, SuggestionStatus
from crm.services.audit import audit_record
from crm.services.merges import live_profile_id, profiles_merge


@transaction.atomic
def suggestion_accept(*, club, actor: Actor, suggestion_id: int) -> MergeRecord | None:
    """Merge the suggested pair (their live profiles) and mark the suggestion accepted.

    Locks both suggested profiles, then the suggestion row, so two staff members deciding the
    same suggestion at once queue up: the second sees it decided and gets a CrmError. Returns the
    merge record, or None when the two profiles were already one (the suggestion is closed).
    Audited by `profiles_merge` (PROFILE_MERGE).
    """
    suggestion = _lock_pending(club, suggestion_id)
    first_id = live_profile_id(club, suggestion.profile_a_id)
    second_id = live_profile_id(club, suggestion.profile_b_id)
    erased = CustomerProfile.objects.for_club(club).filter(pk__in=[first_id, second_id], is_erased=True)
    if erased.exists():
        raise CrmError(CrmErrorCode.MERGE_REFUSED, "One of these profiles was erased; it cannot be merged.")
    record = None
    if first_id != second_id:
        record = profiles_merge(
            club=club,
            first_id=first_id,
            second_id=second_id,
            reason=MergeReason.SUGGESTION,
            actor=actor,
            score=suggestion.score,
            evidence=suggestion.evidence,
        )
    # profiles_merge closes a suggestion only when the merged pair is exactly the suggested one;
    # when it merged the live profiles of a pair that moved on, this closes it.
    _decide(suggestion, SuggestionStatus.ACCEPTED, actor)
    return record


@transaction.atomic
def suggestion_reject(*, club, actor: Actor, suggestion_id: int) -> MergeSuggestion:
    """Mark the pair as two different people, so resolution never suggests it again. Audited.

    Locks the profiles and the suggestion like `suggestion_accept`, so an accept and a reject of
    the same suggestion cannot both succeed.
    """
    suggestion = _lock_pending(club, suggestion_id)
    live_id = live_profile_id(club, suggestion.profile_a_id)
    if live_id == live_profile_id(club, suggestion.profile_b_id):
        raise CrmError(
            CrmErrorCode.MERGE_REFUSED,
            f"#{suggestion.profile_a_id} and #{suggestion.profile_b_id} are already one profile (#{live_id}); "
            "undo that merge first if they are two people.",
        )
    _decide(suggestion, SuggestionStatus.REJECTED, actor)
    audit_record(
        club=club,
        actor=actor,
        action=AuditAction.SUGGESTION_REJECT,
        target=suggestion,
        summary=f"#{suggestion.profile_a_id} and #{suggestion.profile_b_id} are not the same person",
        details={"profiles": [suggestion.profile_a_id, suggestion.profile_b_id], "score": suggestion.score},
    )
    return suggestion


def _lock_pending(club, suggestion_id: int) -> MergeSuggestion:
    suggestions = MergeSuggestion.objects.for_club(club)
    pair = suggestions.filter(pk=suggestion_id).values_list("profile_a_id", "profile_b_id").first()
    if pair is None:
        raise CrmError(CrmErrorCode.NOT_FOUND, "Merge suggestion not found in this club.")
    # A merge locks the profiles (ids ascending) and then updates the pair's suggestion; taking
    # the locks in that same order here keeps a decision and a concurrent merge from deadlocking.
    # The pair itself never changes, so reading it before the locks is safe.
    list(CustomerProfile.objects.for_club(club).filter(pk__in=pair).select_for_update().order_by("pk"))
    suggestion = suggestions.select_for_update().get(pk=suggestion_id)
    if suggestion.status != SuggestionStatus.PENDING:
        raise CrmError(
            CrmErrorCode.MERGE_REFUSED,
            f"This suggestion was already decided: {suggestion.get_status_display().lower()}.",
        )
    return suggestion


def _decide(suggestion: MergeSuggestion, status: str, actor: Actor) -> None:
    suggestion.status = status
    suggestion.decided_at = timezone.now()
    suggestion.decided_by = actor.user
    suggestion.save(update_fields=["status", "decided_at", "decided_by"])
