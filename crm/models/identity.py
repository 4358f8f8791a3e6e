"""Merges and merge suggestions: identity resolution's record of who was joined to whom (SPEC 5)."""

from django.conf import settings
from django.db import models

from crm.kernel.tenancy import ClubScopedModel


class MergeReason(models.TextChoices):
    EVENT = "event", "An event linked them"
    IMPORT = "import", "A backfill row linked them"
    SCORE = "score", "Probabilistic match above the auto-merge threshold"
    STAFF = "staff", "Merged by staff"
    SUGGESTION = "suggestion", "Suggestion accepted by staff"


class MergeRecord(ClubScopedModel):
    """One merge, with everything needed to undo it exactly.

    `snapshot` holds both profiles' field values as they were, `moved` the ids of every related
    row re-pointed from the merged profile to the survivor (per model), and `removed` the rows
    dropped because the survivor already had their twin (same tag, same email), so unmerge can
    put them back with their original ids.
    """

    survivor = models.ForeignKey("crm.CustomerProfile", on_delete=models.CASCADE, related_name="merges_won")
    merged = models.ForeignKey("crm.CustomerProfile", on_delete=models.CASCADE, related_name="merges_lost")
    reason = models.CharField(max_length=12, choices=MergeReason.choices)
    score = models.FloatField(null=True, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    snapshot = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    removed = models.JSONField(default=list)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["club", "-created_at"], name="merge_club_created")]

    def __str__(self):
        return f"#{self.merged_id} → #{self.survivor_id}"


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", "Waiting for review"
    ACCEPTED = "accepted", "Accepted (merged)"
    REJECTED = "rejected", "Rejected (not the same person)"


class MergeSuggestion(ClubScopedModel):
    """Two profiles that may be one person, scored between the review and auto-merge thresholds.

    The pair is stored lowest id first and is unique per club, so a rejected pair is never
    suggested again.
    """

    profile_a = models.ForeignKey("crm.CustomerProfile", on_delete=models.CASCADE, related_name="+")
    profile_b = models.ForeignKey("crm.CustomerProfile", on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    evidence = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=SuggestionStatus.choices, default=SuggestionStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["club", "profile_a", "profile_b"], name="uniq_suggestion_pair"),
            models.CheckConstraint(
                condition=models.Q(profile_a__lt=models.F("profile_b")), name="suggestion_pair_ordered"
            ),
        ]
        indexes = [models.Index(fields=["club", "status", "-score"], name="suggestion_club_status")]

    def __str__(self):
        return f"#{self.profile_a_id} ≟ #{self.profile_b_id} ({self.score:.2f})"
