"""Segment → Messaging list sync against the real simulator: batches, idempotent resume after a
failure part-way, removals, the lock, and club isolation."""

from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.errors import CrmError
from crm.identity.identifiers import IdentifierKind
from crm.models import CustomerProfile
from marketing.messaging.client import MessagingClient
from marketing.models import MessagingListEntry, Segment, SyncStatus
from marketing.services.messaging_sync import segment_sync
from marketing.services.segments import segment_refresh
from marketing.tasks import messaging_sync_tick
from tests.factories import IdentifierFactory, ProfileFactory, SegmentFactory

GOLD = {"field": "tier", "op": "eq", "value": "Gold"}
NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
ADDS = r"^/v1/lists/[\w-]+/members$"


def gold_segment(club, *, people: int, name="Gold members") -> tuple[Segment, list[int]]:
    profiles = ProfileFactory.create_batch(people, club=club, membership_tier="Gold")
    segment = SegmentFactory(club=club, name=name, rule=GOLD, sync_to_messaging=True)
    segment_refresh(club=club, segment=segment)
    return segment, sorted(profile.pk for profile in profiles)


def listed(segment) -> list[int]:
    rows = MessagingListEntry.objects.for_club(segment.club).filter(segment=segment)
    return sorted(rows.values_list("profile_id", flat=True))


def on_messaging_list(simulator, segment) -> list[int]:
    segment.refresh_from_db()
    return sorted(int(external_id) for external_id in simulator.state()["lists"][segment.messaging_list_id]["members"])


def times_added(simulator, segment) -> dict[int, int]:
    counts = simulator.state()["lists"][segment.messaging_list_id]["add_counts"]
    return {int(external_id): count for external_id, count in counts.items()}


@pytest.fixture
def small_batches(settings):
    settings.MESSAGING_SYNC_BATCH = 3


def test_a_sync_creates_the_list_and_pushes_members_in_batches(club_a, messaging_simulator, small_batches):
    segment, people = gold_segment(club_a, people=7)

    result = segment_sync(club=club_a, segment=segment, now=NOW)

    assert (result.status, result.added, result.removed, result.batches) == (SyncStatus.SYNCED, 7, 0, 3)
    adds = messaging_simulator.requests(method="POST", path_suffix="/members")
    assert [len(request["body"]["contacts"]) for request in adds] == [3, 3, 1]
    assert [contact["external_id"] for request in adds for contact in request["body"]["contacts"]] == [
        str(pk) for pk in people
    ]  # smallest profile id first, so a retried batch has the same content
    assert on_messaging_list(messaging_simulator, segment) == people == listed(segment)
    segment.refresh_from_db()
    assert segment.sync_status == SyncStatus.SYNCED and segment.last_synced_at == NOW and segment.sync_error == ""
    assert segment.messaging_list_id and segment.sync_heartbeat_at is None


def test_a_sync_that_fails_part_way_resumes_without_duplicates_or_losses(club_a, messaging_simulator, small_batches):
    segment, people = gold_segment(club_a, people=10)
    # The third add batch fails on every attempt: beyond the client's retry budget.
    messaging_simulator.fail(mode="500", times=100, after=2, method="POST", path_regex=ADDS)

    failed = segment_sync(club=club_a, segment=segment, now=NOW)

    assert (failed.status, failed.added) == (SyncStatus.FAILED, 6)
    segment.refresh_from_db()
    assert segment.sync_status == SyncStatus.FAILED and "500" in segment.sync_error
    assert segment.last_synced_at is None
    assert listed(segment) == people[:6] == on_messaging_list(messaging_simulator, segment)

    messaging_simulator.stop_failing()
    resumed = segment_sync(club=club_a, segment=segment, now=NOW)

    assert (resumed.status, resumed.added, resumed.batches) == (SyncStatus.SYNCED, 4, 2)
    assert on_messaging_list(messaging_simulator, segment) == people == listed(segment)
    assert times_added(messaging_simulator, segment) == dict.fromkeys(people, 1)
    segment.refresh_from_db()
    assert segment.sync_status == SyncStatus.SYNCED and segment.sync_error == ""


def test_an_add_applied_by_messaging_whose_answer_was_lost_is_replayed_on_the_next_run(
    club_a, messaging_simulator, small_batches, settings
):
    settings.MESSAGING_MAX_RETRIES = 0  # the worker gives up at once, as if it had been restarted
    segment, people = gold_segment(club_a, people=5)
    messaging_simulator.fail(mode="timeout_after_apply", times=1, after=1, delay=1.0, method="POST", path_regex=ADDS)

    failed = segment_sync(club=club_a, segment=segment, now=NOW)

    assert failed.status == SyncStatus.FAILED and "did not answer" in failed.error
    assert listed(segment) == people[:3]  # the CRM never saw the second batch acknowledged...
    assert on_messaging_list(messaging_simulator, segment) == people  # ...though Messaging applied it

    resumed = segment_sync(club=club_a, segment=segment, now=NOW)

    assert resumed.status == SyncStatus.SYNCED and listed(segment) == people
    second_batch = messaging_simulator.requests(method="POST", path_suffix="/members")[1:]
    assert [request["outcome"] for request in second_batch] == ["applied, answered late", "replayed"]
    assert second_batch[0]["idempotency_key"] == second_batch[1]["idempotency_key"]
    assert times_added(messaging_simulator, segment) == dict.fromkeys(people, 1)


def test_a_timeout_inside_one_run_is_retried_under_the_same_key(club_a, messaging_simulator, small_batches):
    segment, people = gold_segment(club_a, people=4)
    messaging_simulator.fail(mode="timeout_after_apply", times=1, delay=1.0, method="POST", path_regex=ADDS)

    result = segment_sync(club=club_a, segment=segment, now=NOW)

    assert result.status == SyncStatus.SYNCED
    assert times_added(messaging_simulator, segment) == dict.fromkeys(people, 1)


def test_members_who_left_the_segment_are_removed_on_the_next_sync(club_a, messaging_simulator, small_batches):
    segment, people = gold_segment(club_a, people=6)
    segment_sync(club=club_a, segment=segment, now=NOW)
    leavers, erased = people[1:3], people[4]
    CustomerProfile.objects.for_club(club_a).filter(pk__in=leavers).update(membership_tier="Silver")
    CustomerProfile.objects.for_club(club_a).filter(pk=erased).update(is_erased=True)
    segment_refresh(club=club_a, segment=segment)

    result = segment_sync(club=club_a, segment=segment, now=NOW + timedelta(hours=1))

    assert (result.added, result.removed) == (0, 3)
    staying = [pk for pk in people if pk not in {*leavers, erased}]
    assert on_messaging_list(messaging_simulator, segment) == staying == listed(segment)
    removals = messaging_simulator.requests(method="POST", path_suffix="/members/remove")
    assert [request["body"]["external_ids"] for request in removals] == [[str(pk) for pk in sorted([*leavers, erased])]]


def test_someone_who_leaves_and_comes_back_is_added_again(club_a, messaging_simulator):
    segment, (ann,) = gold_segment(club_a, people=1)
    segment_sync(club=club_a, segment=segment, now=NOW)
    for tier in ("Silver", "Gold"):
        CustomerProfile.objects.for_club(club_a).filter(pk=ann).update(membership_tier=tier)
        segment_refresh(club=club_a, segment=segment)
        segment_sync(club=club_a, segment=segment, now=NOW)

    # A fresh membership row makes a fresh key: not a replay of the first add.
    assert on_messaging_list(messaging_simulator, segment) == [ann] == listed(segment)
    assert times_added(messaging_simulator, segment) == {ann: 2}


def test_a_sync_with_nothing_to_change_only_checks_the_list_is_there(club_a, messaging_simulator):
    segment, _ = gold_segment(club_a, people=3)
    segment_sync(club=club_a, segment=segment, now=NOW)
    before = len(messaging_simulator.requests())

    result = segment_sync(club=club_a, segment=segment, now=NOW)

    assert (result.status, result.batches) == (SyncStatus.SYNCED, 0)
    assert [(request["method"], request["path"]) for request in messaging_simulator.requests()[before:]] == [
        ("GET", f"/v1/lists/{segment.messaging_list_id}")
    ]


def test_each_contact_carries_its_profile_id_email_phone_and_messaging_contact_id(club_a, messaging_simulator):
    segment = SegmentFactory(club=club_a, name="Gold", rule=GOLD, sync_to_messaging=True)
    ann = ProfileFactory(club=club_a, primary_email="ann@example.test", primary_phone="+27821234567")
    bob = ProfileFactory(club=club_a, primary_email="", primary_phone="")
    IdentifierFactory(profile=ann, kind=IdentifierKind.MESSAGING_CONTACT_ID, value="ct_981", source="messaging")
    segment_refresh(club=club_a, segment=segment)

    segment_sync(club=club_a, segment=segment, now=NOW)

    segment.refresh_from_db()
    members = MessagingClient.from_settings().list_members(list_id=segment.messaging_list_id).members
    assert sorted(members, key=lambda member: int(member["external_id"])) == [
        {"external_id": str(ann.pk), "email": "ann@example.test", "phone": "+27821234567", "contact_id": "ct_981"},
        {"external_id": str(bob.pk)},
    ]


def test_a_sync_costs_the_same_queries_for_few_or_many_members(club_a, messaging_simulator):
    def queries(people: int) -> int:
        segment, _ = gold_segment(club_a, people=people, name=f"Gold {people}")
        segment_sync(club=club_a, segment=segment, now=NOW)  # creates the list
        ProfileFactory.create_batch(people, club=club_a, membership_tier="Gold")
        segment_refresh(club=club_a, segment=segment)
        with CaptureQueriesContext(connection) as captured:
            segment_sync(club=club_a, segment=segment, now=NOW)
        return len(captured)

    assert queries(2) == queries(20)


def test_a_segment_already_syncing_elsewhere_is_left_alone_until_its_heartbeat_is_stale(club_a, messaging_simulator):
    segment, people = gold_segment(club_a, people=2)
    Segment.objects.for_club(club_a).filter(pk=segment.pk).update(
        sync_status=SyncStatus.RUNNING, sync_heartbeat_at=timezone.now()
    )

    busy = segment_sync(club=club_a, segment=segment, now=NOW)

    assert busy.already_running and messaging_simulator.requests() == []

    Segment.objects.for_club(club_a).filter(pk=segment.pk).update(sync_heartbeat_at=timezone.now() - timedelta(hours=1))
    taken_over = segment_sync(club=club_a, segment=segment, now=NOW)

    assert taken_over.status == SyncStatus.SYNCED and listed(segment) == people


def test_a_stalled_sync_that_was_taken_over_stops_without_overwriting_the_new_holder(
    club_a, messaging_simulator, settings
):
    settings.MESSAGING_SYNC_BATCH = 2
    segment, people = gold_segment(club_a, people=4)
    taken_over_at = timezone.now() + timedelta(minutes=11)

    class StallingClient(MessagingClient):
        """A real client whose worker stalls after its first acknowledged batch, long enough for
        another worker to take the stale claim over."""

        def list_add_contacts(self, **kwargs):
            change = super().list_add_contacts(**kwargs)
            Segment.objects.for_club(club_a).filter(pk=segment.pk).update(sync_heartbeat_at=taken_over_at)
            return change

    result = segment_sync(club=club_a, segment=segment, client=StallingClient.from_settings(), now=NOW)

    assert result.already_running and result.added == 0
    stored = Segment.objects.for_club(club_a).get(pk=segment.pk)
    # The new holder's claim is untouched, and the batch we lost the claim on is left for it to replay.
    assert stored.sync_status == SyncStatus.RUNNING and stored.sync_heartbeat_at == taken_over_at
    assert listed(segment) == []
    Segment.objects.for_club(club_a).filter(pk=segment.pk).update(sync_heartbeat_at=None)
    finished = segment_sync(club=club_a, segment=segment, now=NOW)
    assert finished.status == SyncStatus.SYNCED and listed(segment) == people
    assert set(times_added(messaging_simulator, segment).values()) == {1}


def test_another_clubs_segment_cannot_be_synced_as_ours(club_a, club_b, messaging_simulator):
    theirs, _ = gold_segment(club_b, people=2)

    with pytest.raises(CrmError):
        segment_sync(club=club_a, segment=theirs, now=NOW)

    assert messaging_simulator.requests() == []
    theirs.refresh_from_db()
    assert theirs.sync_status == SyncStatus.NEVER and theirs.messaging_list_id == ""


def test_each_clubs_list_holds_only_its_own_members(club_a, club_b, messaging_simulator):
    ours, our_people = gold_segment(club_a, people=3)
    theirs, their_people = gold_segment(club_b, people=2)

    assert messaging_sync_tick() == 2  # one sync task per club's segment, each run in its club

    assert on_messaging_list(messaging_simulator, ours) == our_people == listed(ours)
    assert on_messaging_list(messaging_simulator, theirs) == their_people == listed(theirs)
    assert ours.messaging_list_id != theirs.messaging_list_id
    assert not MessagingListEntry.objects.for_club(club_a).filter(segment=theirs).exists()


def test_the_sweep_carries_on_past_a_segment_that_fails(club_a, messaging_simulator):
    first, first_people = gold_segment(club_a, people=2, name="First")
    second, more_people = gold_segment(club_a, people=2, name="Second")  # same rule: everyone is in both
    messaging_sync_tick()
    messaging_simulator.fail(mode="500", times=100, path_prefix=f"/v1/lists/{first_list_id(first)}/")
    CustomerProfile.objects.for_club(club_a).filter(pk=first_people[0]).update(membership_tier="Silver")
    segment_refresh(club=club_a, segment=first)
    segment_refresh(club=club_a, segment=second)
    Segment.objects.for_club(club_a).update(last_synced_at=timezone.now() - timedelta(hours=1))  # due again

    assert messaging_sync_tick() == 2

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.sync_status == SyncStatus.FAILED and "500" in first.sync_error
    assert second.sync_status == SyncStatus.SYNCED
    assert on_messaging_list(messaging_simulator, second) == sorted(first_people[1:] + more_people)


def first_list_id(segment) -> str:
    segment.refresh_from_db()
    return segment.messaging_list_id


def test_a_list_that_vanished_from_messaging_is_replaced_and_refilled(club_a, messaging_simulator):
    segment, people = gold_segment(club_a, people=3)
    segment_sync(club=club_a, segment=segment, now=NOW)
    first_creation_key = messaging_simulator.requests(path_suffix="/v1/lists")[0]["idempotency_key"]
    requests.post(f"{messaging_simulator.url}/_sim/reset", timeout=5)  # a restarted simulator forgets its lists
    ProfileFactory(club=club_a, membership_tier="Gold")  # not refreshed in: the list follows the members
    messaging_simulator.fail(mode="500", times=1, method="POST", path_prefix="/v1/lists")  # the creation retries

    result = segment_sync(club=club_a, segment=segment, now=NOW)

    assert (result.status, result.added) == (SyncStatus.SYNCED, 3)
    creations = messaging_simulator.requests(method="POST", path_suffix="/v1/lists")
    assert [request["outcome"] for request in creations] == ["injected 500", "applied"]
    assert creations[1]["idempotency_key"] != first_creation_key  # not a replay of the vanished list
    assert on_messaging_list(messaging_simulator, segment) == people == listed(segment)


def test_segments_not_flagged_for_sync_are_not_synced(club_a, messaging_simulator):
    segment, _ = gold_segment(club_a, people=1)
    Segment.objects.for_club(club_a).filter(pk=segment.pk).update(sync_to_messaging=False)
    segment.refresh_from_db()

    assert messaging_sync_tick() == 0
    with pytest.raises(CrmError):
        segment_sync(club=club_a, segment=segment)
    assert messaging_simulator.requests() == []
