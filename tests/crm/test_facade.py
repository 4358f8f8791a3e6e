"""crm/facade.py: what other apps read of crm, and the one writer of the score fields."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.facade import (
    ProfileScores,
    club_membership_tiers,
    club_tag_names,
    profile_activity_counts,
    profile_scores_apply,
    profile_snapshots,
)
from crm.models import CustomerProfile
from tests.factories import ActivityFactory, ProfileFactory, TagFactory


def test_snapshots_show_the_clubs_live_profiles_only(club_a, club_b):
    ann = ProfileFactory(club=club_a, first_name="Ann", membership_tier="Gold", rounds_played=12)
    merged = ProfileFactory(club=club_a, merged_into=ann)
    other_club = ProfileFactory(club=club_b)

    snapshots = profile_snapshots(club=club_a, profile_ids=[ann.pk, merged.pk, other_club.pk])

    assert list(snapshots) == [ann.pk]
    assert snapshots[ann.pk].first_name == "Ann"
    assert snapshots[ann.pk].membership_tier == "Gold" and snapshots[ann.pk].rounds_played == 12


def test_activity_counts_are_per_profile_and_type_since_a_time(club_a, club_b):
    ann, ben = ProfileFactory(club=club_a), ProfileFactory(club=club_a)
    long_ago = timezone.now() - timedelta(days=400)
    ActivityFactory(profile=ann, type="round.completed")
    ActivityFactory(profile=ann, type="round.completed")
    ActivityFactory(profile=ann, type="booking.created")
    ActivityFactory(profile=ann, type="round.completed", occurred_at=long_ago)
    ActivityFactory(profile=ProfileFactory(club=club_b), type="round.completed")

    counts = profile_activity_counts(
        club=club_a, profile_ids=[ann.pk, ben.pk], since=timezone.now() - timedelta(days=30)
    )

    assert counts == {ann.pk: {"round.completed": 2, "booking.created": 1}}
    assert profile_activity_counts(club=club_a, profile_ids=[ann.pk])[ann.pk]["round.completed"] == 3


def test_tag_names_and_tiers_are_the_clubs_own(club_a, club_b):
    TagFactory(club=club_a, name="Keen golfer")
    TagFactory(club=club_a, name="Board")
    TagFactory(club=club_b, name="Elsewhere")
    ProfileFactory(club=club_a, membership_tier="Silver")
    ProfileFactory(club=club_b, membership_tier="Platinum")

    assert club_tag_names(club=club_a, limit=10) == ["Board", "Keen golfer"]
    assert club_tag_names(club=club_a, limit=1) == ["Board"]
    assert club_membership_tiers(club=club_a) == ["Silver"]


@pytest.mark.django_db(transaction=True)
def test_scores_apply_writes_changed_scores_and_announces_those_profiles(club_a, club_b, announced):
    ann, ben = ProfileFactory(club=club_a), ProfileFactory(club=club_a, engagement_score=40, churn_risk=0.5)
    stranger = ProfileFactory(club=club_b)

    changed = profile_scores_apply(
        club=club_a,
        scores=[
            ProfileScores(ann.pk, engagement_score=80, churn_risk=0.1),
            ProfileScores(ben.pk, engagement_score=40, churn_risk=0.5),  # unchanged
            ProfileScores(stranger.pk, engagement_score=99, churn_risk=0.9),  # another club's
        ],
    )

    assert changed == 1
    ann.refresh_from_db()
    assert (ann.engagement_score, ann.churn_risk) == (80, 0.1)
    stranger.refresh_from_db()
    assert stranger.engagement_score is None
    assert announced == [[ann.pk]]


@pytest.mark.django_db(transaction=True)
def test_scores_apply_twice_writes_nothing_the_second_time(club_a, announced):
    ann = ProfileFactory(club=club_a)
    scores = [ProfileScores(ann.pk, engagement_score=55, churn_risk=None)]

    assert profile_scores_apply(club=club_a, scores=scores) == 1
    assert profile_scores_apply(club=club_a, scores=scores) == 0
    assert announced == [[ann.pk]]


@pytest.mark.parametrize(
    ("engagement", "churn"),
    [(101, None), (None, 1.5), (None, -0.1)],
)
def test_scores_out_of_range_are_refused_before_anything_is_written(club_a, engagement, churn):
    ann, ben = ProfileFactory(club=club_a), ProfileFactory(club=club_a)

    with pytest.raises(ValueError, match=str(ben.pk)):
        profile_scores_apply(
            club=club_a,
            scores=[ProfileScores(ann.pk, 70, 0.2), ProfileScores(ben.pk, engagement, churn)],
        )

    assert not CustomerProfile.objects.for_club(club_a).filter(engagement_score__isnull=False).exists()
