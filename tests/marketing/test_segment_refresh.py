"""Materialised segment membership: a refresh applies only the difference and records who entered
and who left, in a fixed number of statements; concurrent refreshes don't duplicate members."""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.errors import CrmError
from crm.kernel.actor import Actor
from crm.models import CustomerProfile
from marketing.models import Segment, SegmentChange, SegmentMember
from marketing.services.segments import segment_refresh
from tests.factories import ProfileFactory, SegmentFactory

GOLD = {"field": "tier", "op": "eq", "value": "Gold"}


def members(segment) -> set[int]:
    return set(
        SegmentMember.objects.for_club(segment.club).filter(segment=segment).values_list("profile_id", flat=True)
    )


def changes(segment) -> list[tuple[int, str]]:
    rows = SegmentChange.objects.for_club(segment.club).filter(segment=segment).order_by("at", "change", "profile_id")
    return list(rows.values_list("profile_id", "change"))


@pytest.fixture
def gold(club_a):
    return SegmentFactory(club=club_a, name="Gold members", rule=GOLD)


NOV = {day: datetime(2026, 11, day, tzinfo=UTC) for day in (1, 2, 3)}


def test_a_first_refresh_enters_whoever_matches_and_records_it(club_a, gold):
    ann = ProfileFactory(club=club_a, membership_tier="Gold")
    ProfileFactory(club=club_a, membership_tier="Silver")
    first = segment_refresh(club=club_a, segment=gold, now=NOV[1])
    assert (first.entered, first.exited, first.member_count) == (1, 0, 1)
    assert members(gold) == {ann.pk} and changes(gold) == [(ann.pk, "entered")]


def test_a_refresh_with_nothing_changed_records_nothing_and_keeps_the_entry_time(club_a, gold):
    ProfileFactory(club=club_a, membership_tier="Gold")
    segment_refresh(club=club_a, segment=gold, now=NOV[1])
    again = segment_refresh(club=club_a, segment=gold, now=NOV[2])
    assert (again.entered, again.exited) == (0, 0) and len(changes(gold)) == 1
    entered_at = SegmentMember.objects.for_club(club_a).get(segment=gold).entered_at
    assert entered_at == NOV[1]  # staying in keeps the original entry time


def test_a_refresh_applies_only_the_difference_and_records_it(club_a, gold):
    ann = ProfileFactory(club=club_a, membership_tier="Gold")
    bob = ProfileFactory(club=club_a, membership_tier="Silver")
    segment_refresh(club=club_a, segment=gold, now=NOV[1])
    CustomerProfile.objects.for_club(club_a).filter(pk=ann.pk).update(membership_tier="Silver")
    CustomerProfile.objects.for_club(club_a).filter(pk=bob.pk).update(membership_tier="Gold")
    swap = segment_refresh(club=club_a, segment=gold, now=NOV[3])
    assert (swap.entered, swap.exited, swap.member_count) == (1, 1, 1)
    assert members(gold) == {bob.pk}
    assert changes(gold)[1:] == [(bob.pk, "entered"), (ann.pk, "exited")]


def test_a_refresh_stamps_the_count_time_and_duration_on_the_segment(club_a, gold):
    ProfileFactory(club=club_a, membership_tier="Gold")
    segment_refresh(club=club_a, segment=gold, now=NOV[3])
    gold.refresh_from_db()
    assert gold.member_count == 1 and gold.last_refreshed_at == NOV[3]
    assert gold.last_refresh_ms is not None


def test_merged_away_profiles_leave_the_segment(club_a, gold):
    keep, gone = (
        ProfileFactory(club=club_a, membership_tier="Gold"),
        ProfileFactory(club=club_a, membership_tier="Gold"),
    )
    segment_refresh(club=club_a, segment=gold)
    CustomerProfile.objects.for_club(club_a).filter(pk=gone.pk).update(merged_into=keep)
    result = segment_refresh(club=club_a, segment=gold)
    assert (result.exited, members(gold)) == (1, {keep.pk})


def test_a_refresh_is_a_fixed_number_of_statements(club_a, gold):
    def statements(people: int) -> int:
        ProfileFactory.create_batch(people, club=club_a, membership_tier="Gold")
        with CaptureQueriesContext(connection) as captured:
            segment_refresh(club=club_a, segment=gold)
        return len(captured)

    assert statements(3) == statements(40)


def test_segments_stay_in_their_club(club_a, club_b, gold):
    ProfileFactory(club=club_b, membership_tier="Gold")
    mine = ProfileFactory(club=club_a, membership_tier="Gold")
    segment_refresh(club=club_a, segment=gold)
    assert members(gold) == {mine.pk}
    with pytest.raises(CrmError):
        segment_refresh(club=club_b, segment=gold)


def test_static_segments_are_not_refreshed(club_a):
    hand_picked = SegmentFactory(club=club_a, name="Committee", static=True)
    with pytest.raises(CrmError, match="by hand"):
        segment_refresh(club=club_a, segment=hand_picked)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL; CI runs it there")
def test_two_refreshes_at_once_record_each_newcomer_once(club_a):
    segment = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    people = {profile.pk for profile in ProfileFactory.create_batch(20, club=club_a, membership_tier="Gold")}
    barrier, errors = threading.Barrier(2), []

    def refresh():
        try:
            barrier.wait()
            segment_refresh(club=club_a, segment=Segment.objects.for_club(club_a).get(pk=segment.pk))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert members(segment) == people
    assert sorted(profile for profile, change in changes(segment) if change == "entered") == sorted(people)


def test_an_incremental_refresh_only_touches_the_profiles_it_is_given(club_a, gold):
    ann, bob, cat = (ProfileFactory(club=club_a, membership_tier=tier) for tier in ("Gold", "Gold", "Silver"))
    segment_refresh(club=club_a, segment=gold)
    profiles = CustomerProfile.objects.for_club(club_a)
    profiles.filter(pk=ann.pk).update(membership_tier="Silver")  # touched: leaves
    profiles.filter(pk=cat.pk).update(membership_tier="Gold")  # touched: enters
    profiles.filter(pk=bob.pk).update(membership_tier="Silver")  # not touched: waits for a full refresh
    result = segment_refresh(club=club_a, segment=gold, profile_ids=[ann.pk, cat.pk])
    assert (result.entered, result.exited, result.member_count) == (1, 1, 2)
    assert members(gold) == {bob.pk, cat.pk}
    full = segment_refresh(club=club_a, segment=gold)
    assert (full.entered, full.exited, members(gold)) == (0, 1, {cat.pk})


def test_an_incremental_refresh_costs_the_same_for_a_small_or_large_segment(club_a, gold):
    touched = ProfileFactory(club=club_a, membership_tier="Gold")

    def statements() -> int:
        with CaptureQueriesContext(connection) as captured:
            segment_refresh(club=club_a, segment=gold, profile_ids=[touched.pk])
        return len(captured)

    small = statements()
    ProfileFactory.create_batch(40, club=club_a, membership_tier="Gold")
    segment_refresh(club=club_a, segment=gold)
    assert statements() == small


def test_a_segment_can_build_on_another_segments_members(club_a, gold):
    ann = ProfileFactory(club=club_a, membership_tier="Gold", email_opt_in=True)
    ProfileFactory(club=club_a, membership_tier="Gold", email_opt_in=False)
    ProfileFactory(club=club_a, membership_tier="Silver", email_opt_in=True)
    segment_refresh(club=club_a, segment=gold)
    reachable = SegmentFactory(
        club=club_a,
        name="Gold, emailable",
        rule={"all": [{"segment": gold.pk}, {"field": "email_opt_in", "op": "eq", "value": True}]},
    )
    segment_refresh(club=club_a, segment=reachable)
    assert members(reachable) == {ann.pk}


def test_another_clubs_segment_id_matches_nobody(club_a, club_b, gold):
    ProfileFactory(club=club_a, membership_tier="Gold")
    segment_refresh(club=club_a, segment=gold)
    borrowed = SegmentFactory(club=club_b, name="Borrowed", rule={"segment": gold.pk})
    ProfileFactory(club=club_b, membership_tier="Gold")
    assert segment_refresh(club=club_b, segment=borrowed).member_count == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; CI runs it there")
def test_the_tick_passes_over_a_segment_another_transaction_holds_and_it_stays_due(club_a):
    from marketing.services.segments import segments_due_for_refresh
    from marketing.tasks import segments_refresh_tick

    ann = ProfileFactory(club=club_a, membership_tier="Gold")
    busy = SegmentFactory(club=club_a, name="Busy", rule=GOLD)
    gold = SegmentFactory(club=club_a, name="Gold", rule=GOLD)
    locked, release = threading.Event(), threading.Event()

    def hold_the_busy_segment():
        from django.db import transaction

        try:
            with transaction.atomic():
                Segment.objects.for_club(club_a).select_for_update().get(pk=busy.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_busy_segment)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        started = time.monotonic()
        assert segments_refresh_tick() == 2  # both were due; the held one is skipped (SKIP LOCKED), not waited on
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join(timeout=30)
    assert waited < 10
    assert members(gold) == {ann.pk} and members(busy) == set()
    assert list(segments_due_for_refresh().values_list("pk", flat=True)) == [busy.pk]  # the next tick tries again


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL; CI runs it there")
def test_two_people_hand_picking_the_same_profiles_at_once_add_each_once(club_a):
    from marketing.services.segment_editing import segment_members_add

    committee = SegmentFactory(club=club_a, name="Committee", static=True)
    people = [profile.pk for profile in ProfileFactory.create_batch(10, club=club_a)]
    barrier, results, errors = threading.Barrier(2), [], []

    def add():
        try:
            barrier.wait()
            segment = Segment.objects.for_club(club_a).get(pk=committee.pk)
            results.append(segment_members_add(club=club_a, actor=Actor.system(), segment=segment, profile_ids=people))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=add) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert sorted(result.changed for result in results) == [0, 10]
    assert members(committee) == set(people)
    assert sorted(profile for profile, change in changes(committee) if change == "entered") == sorted(people)
    committee.refresh_from_db()
    assert committee.member_count == 10


def test_member_counts_follow_incremental_refreshes_and_a_full_refresh_sets_them_exactly(club_a, gold):
    ann, bob = ProfileFactory(club=club_a, membership_tier="Gold"), ProfileFactory(club=club_a, membership_tier="Gold")
    segment_refresh(club=club_a, segment=gold)
    CustomerProfile.objects.for_club(club_a).filter(pk=bob.pk).update(membership_tier="Silver")
    assert segment_refresh(club=club_a, segment=gold, profile_ids=[bob.pk]).member_count == 1
    Segment.objects.for_club(club_a).filter(pk=gold.pk).update(member_count=999)  # drift, e.g. a raw delete
    assert segment_refresh(club=club_a, segment=gold).member_count == 1
    assert members(gold) == {ann.pk}
