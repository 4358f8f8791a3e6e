"""Events become timeline entries whose summaries are whole sentences staff can read."""

import pytest

from crm.events.processing import events_process
from crm.events.store import events_store
from crm.models import Activity, CustomerProfile
from tests.factories.events import ago, envelope


def ingest(club, name: str, data: dict) -> str:
    """Store and process one event (in this transaction: no on-commit enqueue) → its summary."""
    raw = [envelope(name, data, club=club, at=ago(days=1))]
    outcome = events_store(club=club, raw_events=raw, transport="test", enqueue=False)
    assert events_process(event_ids=outcome.accepted_ids).processed == 1
    return Activity.objects.for_club(club).filter(type=name).latest("pk").summary


TEE = "2026-12-12T07:30:00+02:00"


@pytest.mark.parametrize(
    ("type_name", "data", "summary"),
    [
        (
            "booking.created",
            {"player_id": "P1", "tee_time": TEE, "booking_id": "B1", "course": "Lakes", "players": 1},
            "Booked a tee time for Sat 12 Dec 2026 07:30 (Lakes, 1 player)",
        ),
        (
            "booking.checked_in",
            {"player_id": "P1", "tee_time": TEE, "booking_id": "B1"},
            "Checked in for Sat 12 Dec 2026 07:30",
        ),
        (
            "booking.no_show",
            {"player_id": "P1", "tee_time": TEE, "booking_id": "B2"},
            "Did not show up for Sat 12 Dec 2026 07:30",
        ),
        (
            "booking.cancelled",
            {"player_id": "P1", "tee_time": TEE, "booking_id": "B3", "reason": "Rain"},
            "Cancelled a booking for Sat 12 Dec 2026 07:30: Rain",
        ),
        ("booking.checked_in", {"player_id": "P1", "booking_id": "B4"}, "Checked in"),  # no tee time known
    ],
)
def test_booking_summaries_pluralise_and_say_the_tee_time(club_a, type_name, data, summary):
    assert ingest(club_a, type_name, data) == summary


@pytest.fixture
def consenting_contact(club_a):
    ingest(club_a, "consent.updated", {"contact_id": "C1", "channels": {"email": True, "sms": True}})
    return {"contact_id": "C1", "message_id": "X1"}


def test_unsubscribe_summaries_are_whole_sentences_and_turn_the_channel_off(club_a, consenting_contact):
    unsubscribed = ingest(club_a, "message.unsubscribed", {**consenting_contact, "channel": "email"})
    assert unsubscribed == "Unsubscribed from email"
    with_subject = ingest(
        club_a, "message.unsubscribed", {**consenting_contact, "channel": "email", "subject": "Spring Open"}
    )
    assert with_subject == "Unsubscribed from email (from 'Spring Open')"
    assert CustomerProfile.objects.for_club(club_a).get().email_opt_in is False


def test_a_spam_report_is_a_whole_sentence_and_turns_the_channel_off(club_a, consenting_contact):
    complained = ingest(club_a, "message.complained", {**consenting_contact, "message_id": "X2", "channel": "sms"})
    assert complained == "Reported an SMS as spam; SMS turned off"
    assert CustomerProfile.objects.for_club(club_a).get().sms_opt_in is False
