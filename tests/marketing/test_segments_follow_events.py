"""Segments follow the event pipeline: processed events refresh the segments of the people they
touched (after commit, through the task), and the periodic tick refreshes every club's due segments."""

from crm.events.store import events_store
from crm.kernel.actor import Actor
from crm.models import CustomerProfile
from marketing.models import Segment, SegmentChange, SegmentMember
from marketing.tasks import segments_refresh_tick
from tests.factories import ProfileFactory, SegmentFactory
from tests.factories.events import ago, envelope

GOLD = {"field": "tier", "op": "eq", "value": "Gold"}


def ingest(club, type_name, data, days_ago):
    events_store(club=club, raw_events=[envelope(type_name, data, club=club, at=ago(days=days_ago))], transport="test")


def test_processed_events_move_people_in_and_out_of_segments(club_a, django_capture_on_commit_callbacks):
    gold = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(
            club_a, "member.created", {"member_id": "M1", "first_name": "Ann", "tier": "Gold", "status": "active"}, 2
        )
    ann = CustomerProfile.objects.for_club(club_a).get()
    assert list(SegmentMember.objects.for_club(club_a).filter(segment=gold).values_list("profile_id", flat=True)) == [
        ann.pk
    ]
    with django_capture_on_commit_callbacks(execute=True):
        ingest(club_a, "membership.tier_changed", {"member_id": "M1", "tier": "Silver", "previous_tier": "Gold"}, 1)
    assert not SegmentMember.objects.for_club(club_a).filter(segment=gold).exists()
    changes = SegmentChange.objects.for_club(club_a).filter(segment=gold).order_by("at", "pk")
    assert list(changes.values_list("profile_id", "change")) == [(ann.pk, "entered"), (ann.pk, "exited")]
    gold.refresh_from_db()
    # Only a full refresh stamps the segment: the periodic one is still due for everyone else.
    assert gold.member_count == 0 and gold.last_refreshed_at is None


def test_the_tick_refreshes_every_clubs_segments_in_their_own_club(club_a, club_b):
    mine = ProfileFactory(club=club_a, membership_tier="Gold")
    theirs = ProfileFactory(club=club_b, membership_tier="Gold")
    alpha = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    bravo = SegmentFactory(club=club_b, name="Gold", rule=GOLD)
    assert segments_refresh_tick() == 2
    assert set(SegmentMember.objects.for_club(club_a).values_list("segment_id", "profile_id")) == {(alpha.pk, mine.pk)}
    assert set(SegmentMember.objects.for_club(club_b).values_list("segment_id", "profile_id")) == {
        (bravo.pk, theirs.pk)
    }


def test_the_tick_refreshes_the_segments_others_build_on_first(club_a):
    ann = ProfileFactory(club=club_a, membership_tier="Gold", email_opt_in=True)
    built_on_top = SegmentFactory(club=club_a, name="Gold, emailable", rule=GOLD)  # the lower id
    base = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    built_on_top.rule = {"all": [{"segment": base.pk}, {"field": "email_opt_in", "op": "eq", "value": True}]}
    built_on_top.save()
    segments_refresh_tick()
    assert set(
        SegmentMember.objects.for_club(club_a).filter(segment=built_on_top).values_list("profile_id", flat=True)
    ) == {ann.pk}


def test_a_segment_whose_rule_no_longer_validates_does_not_stop_the_others(club_a, caplog):
    ann = ProfileFactory(club=club_a, membership_tier="Gold")
    stale = SegmentFactory(club=club_a, name="Shoe size", rule={"field": "shoe_size", "op": "eq", "value": 9})
    gold = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    assert segments_refresh_tick() == 2  # both are due; the one that can't refresh is logged and skipped
    assert list(SegmentMember.objects.for_club(club_a).filter(segment=gold).values_list("profile_id", flat=True)) == [
        ann.pk
    ]
    assert f"Segment {stale.pk}" in caplog.text and "shoe_size" in caplog.text


def test_a_segment_whose_refresh_failed_says_why_and_waits_an_interval_before_trying_again(
    club_a, client_for, settings
):
    stale = SegmentFactory(club=club_a, name="Shoe size", rule={"field": "shoe_size", "op": "eq", "value": 9})
    assert segments_refresh_tick() == 1

    stale.refresh_from_db()
    assert stale.refresh_failed_at is not None and stale.last_refreshed_at is None
    assert "shoe_size" in stale.refresh_error
    assert segments_refresh_tick() == 0  # not handed to a worker again every minute
    page = client_for(club_a).get(f"/segments/{stale.pk}/")
    assert "Refresh failed" in page.content.decode() and "shoe_size" in page.content.decode()

    Segment.objects.for_club(club_a).filter(pk=stale.pk).update(
        refresh_failed_at=ago(minutes=settings.SEGMENTS_REFRESH_MINUTES + 1)
    )
    assert segments_refresh_tick() == 1  # an interval later it is tried again


def test_a_full_refresh_clears_an_earlier_failure(club_a):
    gold = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    Segment.objects.for_club(club_a).filter(pk=gold.pk).update(refresh_failed_at=ago(hours=1), refresh_error="locked")
    assert segments_refresh_tick() == 1

    gold.refresh_from_db()
    assert (gold.refresh_failed_at, gold.refresh_error) == (None, "") and gold.last_refreshed_at is not None


def test_a_staff_merge_and_its_undo_move_people_out_of_and_back_into_segments_at_once(
    club_a, django_capture_on_commit_callbacks
):
    from crm.services.merges import merge_undo, profiles_merge
    from marketing.services.segments import segment_refresh

    ann = ProfileFactory(club=club_a, membership_tier="Gold", first_name="Ann", last_name="Lee")
    twin = ProfileFactory(club=club_a, membership_tier="Gold", first_name="Ann", last_name="Lee")
    gold = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    segment_refresh(club=club_a, segment=gold)
    with django_capture_on_commit_callbacks(execute=True):
        record = profiles_merge(club=club_a, actor=Actor.system(), first_id=ann.pk, second_id=twin.pk, reason="staff")
    members = SegmentMember.objects.for_club(club_a).filter(segment=gold)
    assert set(members.values_list("profile_id", flat=True)) == {record.survivor_id}
    with django_capture_on_commit_callbacks(execute=True):
        merge_undo(club=club_a, actor=Actor.system(), record_id=record.pk)
    assert set(members.values_list("profile_id", flat=True)) == {ann.pk, twin.pk}
