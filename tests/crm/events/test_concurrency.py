"""Two workers processing events about the same new people at the same moment make one profile each."""

import threading

import pytest
from django.db import connection

from crm.events.processing import events_process
from crm.events.store import events_store
from crm.models import CustomerProfile, ProfileIdentifier
from tests.factories.events import envelope

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the race needs concurrent writers; SQLite serialises them (BEGIN IMMEDIATE). CI runs this on PostgreSQL",
)
PEOPLE = 25


def stored_ids(club, events) -> list[int]:
    outcome = events_store(club=club, raw_events=events, transport="test", enqueue=False)
    assert outcome.counts()["accepted"] == len(events)
    return outcome.accepted_ids


def run_at_once(*batches: list[int]) -> None:
    """Each batch in its own thread (its own database connection), released together."""
    barrier = threading.Barrier(len(batches))
    errors = []

    def work(ids):
        try:
            barrier.wait()
            events_process(event_ids=ids)
        except Exception as error:  # surfaced below; a thread's exception is otherwise lost
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(ids,)) for ids in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_same_new_people_from_two_systems_at_once_become_one_profile_each(club_a):
    scl = stored_ids(
        club_a,
        [
            envelope("member.created", {"member_id": f"M{i}", "email": f"p{i}@alpha.test"}, club=club_a)
            for i in range(PEOPLE)
        ],
    )
    messaging = stored_ids(
        club_a,
        [
            envelope("contact.created", {"contact_id": f"C{i}", "email": f"P{i}@Alpha.test"}, club=club_a)
            for i in range(PEOPLE)
        ],
    )
    run_at_once(scl, messaging)

    assert CustomerProfile.objects.for_club(club_a).count() == PEOPLE
    per_profile = ProfileIdentifier.objects.for_club(club_a).filter(kind__in=["scl_member_id", "messaging_contact_id"])
    by_profile: dict[int, set[str]] = {}
    for profile_id, kind in per_profile.values_list("profile_id", "kind"):
        by_profile.setdefault(profile_id, set()).add(kind)
    assert all(kinds == {"scl_member_id", "messaging_contact_id"} for kinds in by_profile.values())


def test_two_workers_counting_rounds_for_one_person_lose_no_update(club_a):
    first = stored_ids(
        club_a,
        [envelope("round.completed", {"player_id": "P1", "round_id": f"R{i}"}, club=club_a) for i in range(0, 40, 2)],
    )
    second = stored_ids(
        club_a,
        [envelope("round.completed", {"player_id": "P1", "round_id": f"R{i}"}, club=club_a) for i in range(1, 40, 2)],
    )
    run_at_once(first, second)

    profile = CustomerProfile.objects.for_club(club_a).get()
    assert profile.rounds_played == 40
    assert profile.activities.count() == 40


def test_the_same_batch_taken_by_two_workers_is_applied_once(club_a):
    ids = stored_ids(
        club_a,
        [envelope("payment.received", {"member_id": "M1", "amount": "25.00"}, club=club_a) for _ in range(30)],
    )
    run_at_once(ids, ids)

    profile = CustomerProfile.objects.for_club(club_a).get()
    assert profile.activities.count() == 30


def test_a_contact_matched_by_email_and_its_messages_at_once_end_on_the_member(club_a):
    members = stored_ids(
        club_a,
        [
            envelope("member.created", {"member_id": f"M{i}", "email": f"p{i}@alpha.test"}, club=club_a)
            for i in range(PEOPLE)
        ],
    )
    events_process(event_ids=members)
    contacts = stored_ids(
        club_a,
        [
            envelope("contact.created", {"contact_id": f"C{i}", "email": f"p{i}@alpha.test"}, club=club_a)
            for i in range(PEOPLE)
        ],
    )
    messages = stored_ids(
        club_a,
        [
            envelope("message.sent", {"contact_id": f"C{i}", "message_id": f"m{i}", "channel": "email"}, club=club_a)
            for i in range(PEOPLE)
        ],
    )
    run_at_once(contacts, messages)

    # Whichever worker takes contact C first, every contact ends up on its member's profile with
    # both events on the timeline: when the message wins the race, C starts a profile of its own,
    # and contact.created then proves it is the member's, so the two are merged.
    live = CustomerProfile.objects.for_club(club_a).filter(merged_into__isnull=True)
    assert live.count() == PEOPLE
    for profile in live:
        kinds = set(profile.identifiers.values_list("kind", flat=True))
        assert kinds == {"scl_member_id", "email", "messaging_contact_id"}
        types = set(profile.activities.values_list("type", flat=True))
        assert types == {"member.created", "contact.created", "message.sent"}
