"""Merging moves everything a person has to the survivor; unmerging puts every row back."""

import threading

import pytest
from django.db import connection

from crm.errors import CrmError
from crm.kernel.actor import Actor
from crm.models import Activity, AuditLog, CustomerProfile, MergeRecord, Note, ProfileIdentifier, ProfileTag
from crm.services.merges import merge_undo, profiles_merge
from tests.factories import (
    ActivityFactory,
    IdentifierFactory,
    NoteFactory,
    ProfileFactory,
    ProfileTagFactory,
    TagFactory,
)
from tests.factories.events import ago


def identify(profile, kind, value, source="scl"):
    return IdentifierFactory(
        profile=profile, kind=kind, value=value, source=source, first_seen_at=ago(days=9), last_seen_at=ago(days=1)
    )


def state_of(club, *profiles):
    """Everything a merge may touch, per profile, ids included."""
    result = {}
    for profile in profiles:
        profile.refresh_from_db()
        values = {field.attname: getattr(profile, field.attname) for field in profile._meta.concrete_fields}
        values.pop("updated_at")
        result[profile.pk] = {
            "fields": values,
            "identifiers": set(
                ProfileIdentifier.objects.for_club(club).filter(profile=profile).values_list("pk", "kind", "value")
            ),
            "tags": set(ProfileTag.objects.for_club(club).filter(profile=profile).values_list("pk", "tag_id")),
            "notes": set(Note.objects.for_club(club).filter(profile=profile).values_list("pk", flat=True)),
            "activities": set(Activity.objects.for_club(club).filter(profile=profile).values_list("pk", flat=True)),
        }
    return result


@pytest.fixture
def pair(club_a):
    """A member (SCL-backed, newer) and a TeeTime player who are the same woman."""
    player = ProfileFactory(
        club=club_a,
        first_name="Ann",
        last_name="",
        rounds_played=7,
        primary_email="ann@old.test",
        membership_status="",
        membership_tier="",
        handicap_index=12.4,
    )
    member = ProfileFactory(
        club=club_a,
        first_name="Ann",
        last_name="Lee",
        rounds_played=2,
        membership_tier="Full",
        primary_email="ann@new.test",
    )
    identify(member, "scl_member_id", "M1")
    identify(member, "email", "ann@new.test")
    identify(player, "teetime_player_id", "P1", "teetime")
    identify(player, "email", "ann@new.test", "teetime")  # a twin of the member's row
    identify(player, "email", "ann@old.test", "teetime")
    shared_tag, own_tag = TagFactory(club=club_a, name="vip"), TagFactory(club=club_a, name="golfer")
    ProfileTagFactory(profile=member, tag=shared_tag)
    ProfileTagFactory(profile=player, tag=shared_tag)  # a twin
    ProfileTagFactory(profile=player, tag=own_tag)
    NoteFactory(profile=player, body="Left-handed")
    ActivityFactory(profile=player)
    ActivityFactory(profile=player)
    ActivityFactory(profile=member, type="payment.received", source="scl")
    return member, player


def test_merge_moves_everything_to_the_scl_backed_survivor(club_a, pair):
    member, player = pair
    record = profiles_merge(club=club_a, actor=Actor.system(), first_id=player.pk, second_id=member.pk, reason="staff")
    assert (record.survivor_id, record.merged_id) == (member.pk, player.pk)
    member.refresh_from_db()
    player.refresh_from_db()
    assert player.merged_into_id == member.pk
    assert set(member.identifiers.values_list("kind", "value")) == {
        ("scl_member_id", "M1"),
        ("email", "ann@new.test"),
        ("teetime_player_id", "P1"),
        ("email", "ann@old.test"),
    }
    assert set(member.tags.values_list("name", flat=True)) == {"vip", "golfer"}
    assert member.notes.get().body == "Left-handed"
    assert member.activities.count() == 3 and not player.activities.exists()
    assert (member.rounds_played, member.membership_tier, float(member.handicap_index)) == (9, "Full", 12.4)
    assert member.last_name == "Lee"  # an empty value never erases one
    assert AuditLog.objects.for_club(club_a).filter(action="profile.merge").count() == 1


def test_unmerge_restores_both_profiles_exactly(club_a, pair):
    member, player = pair
    before = state_of(club_a, member, player)
    record = profiles_merge(club=club_a, actor=Actor.system(), first_id=member.pk, second_id=player.pk, reason="staff")
    merge_undo(club=club_a, actor=Actor.system(), record_id=record.pk)
    assert state_of(club_a, member, player) == before
    record.refresh_from_db()
    assert record.undone_at is not None
    assert AuditLog.objects.for_club(club_a).filter(action="profile.unmerge").count() == 1
    with pytest.raises(CrmError, match="already undone"):
        merge_undo(club=club_a, actor=Actor.system(), record_id=record.pk)


def test_two_members_are_never_merged(club_a):
    first, second = ProfileFactory(club=club_a), ProfileFactory(club=club_a)
    identify(first, "scl_member_id", "M1")
    identify(second, "scl_member_id", "M2")
    with pytest.raises(CrmError, match="different scl_member_id"):
        profiles_merge(club=club_a, actor=Actor.system(), first_id=first.pk, second_id=second.pk, reason="staff")
    assert not MergeRecord.objects.for_club(club_a).exists()
    assert CustomerProfile.objects.for_club(club_a).filter(merged_into__isnull=False).count() == 0


def test_merging_into_a_profile_that_was_merged_away_follows_it(club_a):
    first, second, third = (ProfileFactory(club=club_a) for _ in range(3))
    profiles_merge(club=club_a, actor=Actor.system(), first_id=first.pk, second_id=second.pk, reason="staff")
    record = profiles_merge(club=club_a, actor=Actor.system(), first_id=second.pk, second_id=third.pk, reason="staff")
    assert record.survivor_id == first.pk


def test_a_profile_of_another_club_cannot_be_merged(club_a, club_b):
    mine, theirs = ProfileFactory(club=club_a), ProfileFactory(club=club_b)
    with pytest.raises(CrmError, match="not found"):
        profiles_merge(club=club_a, actor=Actor.system(), first_id=mine.pk, second_id=theirs.pk, reason="staff")
    theirs.refresh_from_db()
    assert theirs.merged_into_id is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL; CI runs it there")
def test_two_merges_touching_one_profile_at_once_lose_nothing(club_a):
    for _ in range(10):
        hub, left, right = (ProfileFactory(club=club_a) for _ in range(3))
        for profile in (hub, left, right):
            ActivityFactory.create_batch(3, profile=profile)
            identify(profile, "email", f"{profile.pk}@example.test")
        barrier, errors = threading.Barrier(2), []

        def merge(other, hub=hub, barrier=barrier, errors=errors):
            try:
                barrier.wait()
                profiles_merge(club=club_a, actor=Actor.system(), first_id=hub.pk, second_id=other.pk, reason="staff")
            except Exception as error:
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=merge, args=(other,)) for other in (left, right)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors
        live = CustomerProfile.objects.for_club(club_a).filter(
            pk__in=[hub.pk, left.pk, right.pk], merged_into__isnull=True
        )
        assert live.count() == 1
        survivor = live.get()
        assert survivor.activities.count() == 9 and survivor.identifiers.count() == 3


def test_processing_follows_a_profile_another_worker_merged_away(club_a):
    """Resolution said #merged; before the batch locked it, another worker merged it away."""
    from crm.events.processing import profiles_lock_for_refs
    from crm.services.resolution import PersonRef

    keep, gone = ProfileFactory(club=club_a), ProfileFactory(club=club_a)
    identify(keep, "scl_member_id", "M1")
    profiles_merge(club=club_a, actor=Actor.system(), first_id=keep.pk, second_id=gone.pk, reason="staff")
    ref = PersonRef(keys=[("teetime_player_id", "P1")], seen_at=ago(days=1), source="teetime", profile_id=gone.pk)
    locked = profiles_lock_for_refs(club_a, [ref])
    assert ref.profile_id == keep.pk and list(locked) == [keep.pk]
