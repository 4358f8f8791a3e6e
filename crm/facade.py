"""What other apps may use of crm: frozen dataclasses and plain functions, never a model instance.

Scoring, the AI builder and the pillars still to come read profiles through these functions and
write crm's score fields through `profile_scores_apply` alone, so crm can change its tables
without breaking them. Every function is club-scoped and sees live profiles only (not merged
away, not erased).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count

from crm.events.catalog import CATALOG, PERSON
from crm.models import Activity, ApiScope, Capability, CustomerProfile, Tag
from crm.selectors import club_tiers, profile_active_queryset
from crm.signals import profiles_changed_after_commit

# The access vocabulary other apps' edges name: the capability a page needs (`club_page(Capability.MARKET)`)
# and the scope an endpoint needs (`write_scope = ApiScope.SEGMENTS_WRITE`).
__all__ = [
    "CATALOG",  # the event catalog: which activity types exist, for rules and prompts
    "PERSON",
    "ApiScope",
    "Capability",
    "ProfileScores",
    "ProfileSnapshot",
    "club_membership_tiers",
    "club_tag_names",
    "profile_activity_counts",
    "profile_scores_apply",
    "profile_snapshots",
]

SNAPSHOT_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "membership_status",
    "membership_tier",
    "lifecycle_stage",
    "rounds_played",
    "last_round_at",
    "email_opt_in",
    "sms_opt_in",
    "engagement_score",
    "churn_risk",
)
SCORE_FIELDS = ("engagement_score", "churn_risk")


@dataclass(frozen=True)
class ProfileSnapshot:
    """A profile as other apps see it: the facts scoring and targeting use, no contact details."""

    id: int
    first_name: str
    last_name: str
    membership_status: str
    membership_tier: str
    lifecycle_stage: str
    rounds_played: int
    last_round_at: datetime | None
    email_opt_in: bool
    sms_opt_in: bool
    engagement_score: int | None
    churn_risk: float | None


@dataclass(frozen=True)
class ProfileScores:
    """Scores for one profile: engagement 0–100 and churn risk 0–1; None clears a score."""

    profile_id: int
    engagement_score: int | None
    churn_risk: float | None


def profile_snapshots(*, club, profile_ids: Iterable[int]) -> dict[int, ProfileSnapshot]:
    """The club's live profiles among `profile_ids`, by id (others' and merged-away ids are absent)."""
    rows = profile_active_queryset(club=club).filter(pk__in=list(profile_ids)).values(*SNAPSHOT_FIELDS)
    return {row["id"]: ProfileSnapshot(**row) for row in rows}


def profile_activity_counts(
    *, club, profile_ids: Iterable[int], since: datetime | None = None
) -> dict[int, dict[str, int]]:
    """How many activities of each type each profile has (since `since`, if given), by profile id.

    One grouped query that walks each profile's timeline index; a profile without activities is
    absent rather than present with zeros.
    """
    activities = Activity.objects.for_club(club).filter(profile_id__in=list(profile_ids))
    if since is not None:
        activities = activities.filter(occurred_at__gte=since)
    counts: dict[int, dict[str, int]] = {}
    for row in activities.values("profile_id", "type").annotate(count=Count("id")).order_by():
        counts.setdefault(row["profile_id"], {})[row["type"]] = row["count"]
    return counts


def club_tag_names(*, club, limit: int) -> list[str]:
    """The club's tag names A–Z, at most `limit` of them."""
    return list(Tag.objects.for_club(club).order_by("name").values_list("name", flat=True)[:limit])


def club_membership_tiers(*, club) -> list[str]:
    """The membership tiers the club's live profiles hold, A–Z."""
    return club_tiers(club=club)


@transaction.atomic
def profile_scores_apply(*, club, scores: Iterable[ProfileScores]) -> int:
    """Write engagement scores and churn risks; the one writer of crm's score fields. Returns how
    many profiles' scores changed.

    Raises ValueError naming the profile if a score is out of range (a scoring bug, not input),
    before anything is written. Ids that are not the club's live profiles are skipped (a profile merged away since
    scoring started keeps no score). Only changed rows are written, in one bulk update, and only
    they are announced (`profiles_changed`), so a rerun with the same scores writes nothing. The
    rows are locked in id order first: two scoring runs at once apply one after the other instead
    of each deciding "unchanged" from what the other is about to overwrite. Scores are derived
    data recomputed on every run, so they get no audit row.
    """
    wanted = {score.profile_id: score for score in scores}
    for score in wanted.values():
        if score.engagement_score is not None and not 0 <= score.engagement_score <= 100:
            raise ValueError(f"Profile {score.profile_id}: engagement score {score.engagement_score} is not 0–100.")
        if score.churn_risk is not None and not 0.0 <= score.churn_risk <= 1.0:
            raise ValueError(f"Profile {score.profile_id}: churn risk {score.churn_risk} is not a probability 0–1.")
    current = (
        profile_active_queryset(club=club)
        .filter(pk__in=list(wanted))
        .select_for_update()
        .order_by("pk")
        .values_list("pk", *SCORE_FIELDS)
    )
    changed = []
    for pk, engagement, churn in current:
        score = wanted[pk]
        if (engagement, churn) != (score.engagement_score, score.churn_risk):
            changed.append(
                CustomerProfile(pk=pk, club=club, engagement_score=score.engagement_score, churn_risk=score.churn_risk)
            )
    if changed:
        CustomerProfile.objects.for_club(club).bulk_update(changed, list(SCORE_FIELDS))
        profiles_changed_after_commit(club, [profile.pk for profile in changed])
    return len(changed)
