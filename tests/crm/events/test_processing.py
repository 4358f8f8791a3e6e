"""Applying events: profiles, survivorship, consent, counters, tournaments, idempotency, failures."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from crm.events.catalog import CATALOG
from crm.events.processing import events_process, events_process_pending
from crm.events.replay import events_replay
from crm.events.store import events_store
from crm.kernel.actor import Actor
from crm.models import Activity, CustomerProfile, InboundEvent, ProfileIdentifier, Tournament
from tests.factories import UserFactory
from tests.factories.events import ago, envelope


def ingest(club, *events):
    outcome = events_store(club=club, raw_events=list(events), transport="test")
    return outcome


def the_profile(club) -> CustomerProfile:
    return CustomerProfile.objects.for_club(club).get()


SAMPLE_DATA = {
    "member.created": {"member_id": "M1", "first_name": "Ann", "tier": "Gold", "status": "active"},
    "member.updated": {"member_id": "M1", "last_name": "Lee"},
    "membership.renewed": {"member_id": "M1", "renewal_on": "2027-03-31", "tier": "Gold", "amount": "4500.00"},
    "membership.lapsed": {"member_id": "M1", "lapsed_on": "2026-04-01"},
    "membership.tier_changed": {"member_id": "M1", "tier": "Silver", "previous_tier": "Gold"},
    "membership.suspended": {"member_id": "M1", "reason": "Arrears"},
    "membership.resigned": {"member_id": "M1"},
    "payment.received": {"member_id": "M1", "amount": "1250.50", "description": "Annual subscription"},
    "payment.failed": {"member_id": "M1", "amount": 99, "reason": "Card declined"},
    "player.created": {"player_id": "P1", "member_id": "M1", "handicap_index": "12.4"},
    "player.updated": {"player_id": "P1", "home_course": "Championship"},
    "booking.created": {
        "player_id": "P1",
        "booking_id": "B1",
        "tee_time": "2026-12-12T07:30:00+02:00",
        "course": "Championship",
        "players": 4,
    },
    "booking.cancelled": {"player_id": "P1", "booking_id": "B1", "reason": "Rain"},
    "booking.checked_in": {"player_id": "P1", "booking_id": "B2"},
    "booking.no_show": {"player_id": "P1", "booking_id": "B3"},
    "round.completed": {"player_id": "P1", "round_id": "R1", "gross_score": 84, "stableford_points": 36},
    "tournament.created": {
        "tournament_id": "T1",
        "name": "Club Champs",
        "starts_at": "2026-12-20T08:00:00Z",
        "capacity": 120,
    },
    "tournament.updated": {"tournament_id": "T1", "capacity": 144},
    "tournament.cancelled": {"tournament_id": "T1", "reason": "Course flooded"},
    "tournament.entry_created": {"player_id": "P1", "tournament_id": "T1"},
    "tournament.results_published": {
        "tournament_id": "T1",
        "results": [{"player_id": "P1", "position": 3, "score": 38}],
    },
    "contact.created": {"contact_id": "C1", "member_id": "M1", "email": "ann@example.com"},
    "contact.updated": {"contact_id": "C1", "locale": "en-ZA"},
    "consent.updated": {"contact_id": "C1", "channels": {"email": True, "sms": False}},
    "message.sent": {"contact_id": "C1", "message_id": "X1", "channel": "email", "subject": "Spring Open"},
    "message.delivered": {"contact_id": "C1", "message_id": "X1", "channel": "email"},
    "message.opened": {"contact_id": "C1", "message_id": "X1", "channel": "email", "subject": "Spring Open"},
    "message.clicked": {"contact_id": "C1", "message_id": "X1", "channel": "email", "url": "https://club/enter"},
    "message.bounced": {"contact_id": "C1", "message_id": "X2", "channel": "sms", "reason": "Unknown number"},
    "message.unsubscribed": {"contact_id": "C1", "message_id": "X3", "channel": "email"},
    "message.complained": {"contact_id": "C1", "message_id": "X4", "channel": "email"},
}


def test_sample_data_covers_the_whole_catalog():
    assert set(SAMPLE_DATA) == {event_type.name for event_type in CATALOG}


@pytest.mark.parametrize("event_type", CATALOG, ids=lambda event_type: event_type.name)
def test_every_catalog_type_is_applied_and_person_types_write_their_activity(club_a, event_type):
    if event_type.name in (
        "tournament.updated",
        "tournament.cancelled",
        "tournament.entry_created",
        "tournament.results_published",
    ):
        ingest(club_a, envelope("tournament.created", SAMPLE_DATA["tournament.created"], club=club_a, at=ago(days=2)))
    outcome = ingest(club_a, envelope(event_type.name, SAMPLE_DATA[event_type.name], club=club_a, at=ago(days=1)))
    event = InboundEvent.objects.for_club(club_a).get(pk=outcome.accepted_ids[0])
    assert event.status == "processed", event.errors
    activities = list(Activity.objects.for_club(club_a).filter(inbound_event=event))
    if event_type.is_about_a_person or event_type.name == "tournament.results_published":
        assert len(activities) == 1
        assert activities[0].type == event_type.name and activities[0].summary
        assert activities[0].source == event_type.source
    else:
        assert activities == []
        assert Tournament.objects.for_club(club_a).filter(external_id="T1").exists()


def test_summaries_read_like_a_person_wrote_them(club_a):
    ingest(club_a, envelope("tournament.created", SAMPLE_DATA["tournament.created"], club=club_a, at=ago(days=3)))
    for name in (
        "membership.renewed",
        "payment.received",
        "booking.created",
        "round.completed",
        "tournament.results_published",
        "message.opened",
    ):
        ingest(club_a, envelope(name, SAMPLE_DATA[name], club=club_a, at=ago(days=1)))
    summaries = {a.type: a.summary for a in Activity.objects.for_club(club_a)}
    assert summaries["membership.renewed"] == "Renewed Gold membership until 31 Mar 2027"
    assert summaries["payment.received"] == "Payment received: ZAR 1,250.50 (Annual subscription)"
    assert summaries["booking.created"] == "Booked a tee time for Sat 12 Dec 2026 07:30 (Championship, 4 players)"
    assert summaries["round.completed"] == "Played 18 holes (gross 84, 36 points)"
    assert summaries["tournament.results_published"] == "Finished 3rd in Club Champs (score 38)"
    assert summaries["message.opened"] == "Email 'Spring Open' opened"


def test_systems_are_joined_into_one_profile_through_their_cross_links(club_a):
    ingest(
        club_a,
        envelope(
            "member.created",
            {"member_id": "M1", "first_name": "Ann", "email": "ann@example.com"},
            club=club_a,
            at=ago(days=3),
        ),
    )
    ingest(
        club_a,
        envelope(
            "player.created", {"player_id": "P1", "member_id": "M1", "handicap_index": 9.8}, club=club_a, at=ago(days=2)
        ),
    )
    ingest(club_a, envelope("round.completed", {"player_id": "P1", "round_id": "R1"}, club=club_a, at=ago(days=1)))
    ingest(
        club_a,
        envelope(
            "message.opened",
            {"contact_id": "C1", "message_id": "X", "channel": "email", "email": "ann@example.com"},
            club=club_a,
        ),
    )
    profile = the_profile(club_a)
    assert profile.handicap_index == Decimal("9.8") and profile.rounds_played == 1
    kinds = set(ProfileIdentifier.objects.for_club(club_a).values_list("kind", flat=True))
    assert kinds == {"scl_member_id", "teetime_player_id", "messaging_contact_id", "email"}
    assert Activity.objects.for_club(club_a).filter(profile=profile).count() == 4


def test_a_couple_sharing_an_email_stay_two_people(club_a):
    ingest(
        club_a,
        envelope(
            "member.created", {"member_id": "M1", "first_name": "Ann", "email": "smiths@example.com"}, club=club_a
        ),
        envelope(
            "member.created", {"member_id": "M2", "first_name": "Bob", "email": "smiths@example.com"}, club=club_a
        ),
    )
    assert CustomerProfile.objects.for_club(club_a).count() == 2
    assert ProfileIdentifier.objects.for_club(club_a).filter(kind="email").count() == 2


@pytest.mark.parametrize("one_batch", [True, False], ids=["one batch", "two batches"])
def test_new_people_join_across_systems_by_email_whether_or_not_in_one_batch(club_a, one_batch):
    member = envelope("member.created", {"member_id": "M1", "email": "ann@alpha.test"}, club=club_a, at=ago(days=2))
    contact = envelope("contact.created", {"contact_id": "C1", "email": "ANN@alpha.test"}, club=club_a)
    couple = envelope("member.created", {"member_id": "M2", "email": "ann@alpha.test"}, club=club_a, at=ago(days=1))
    if one_batch:
        ingest(club_a, member, couple, contact)
    else:
        ingest(club_a, member)
        ingest(club_a, couple)
        ingest(club_a, contact)
    # M2 shares Ann's inbox but is another member: two people. The Messaging contact's email is
    # then held by two profiles, so it can't tell which one it is: a profile of its own for now.
    kinds = sorted(
        tuple(sorted(profile.identifiers.exclude(kind="email").values_list("kind", flat=True)))
        for profile in CustomerProfile.objects.for_club(club_a)
    )
    assert kinds == [("messaging_contact_id",), ("scl_member_id",), ("scl_member_id",)]


def test_a_member_and_their_contact_in_one_batch_are_one_person(club_a):
    ingest(
        club_a,
        envelope("member.created", {"member_id": "M1", "email": "ann@alpha.test"}, club=club_a),
        envelope("contact.created", {"contact_id": "C1", "email": "ann@alpha.test"}, club=club_a),
        envelope("player.created", {"player_id": "P1", "email": "ann@alpha.test"}, club=club_a),
    )
    profile = the_profile(club_a)
    assert set(profile.identifiers.values_list("kind", flat=True)) == {
        "email",
        "scl_member_id",
        "messaging_contact_id",
        "teetime_player_id",
    }


def test_an_older_event_arriving_late_does_not_overwrite_newer_data(club_a):
    ingest(
        club_a,
        envelope(
            "member.updated",
            {"member_id": "M1", "email": "new@example.com", "tier": "Gold"},
            club=club_a,
            at=ago(days=1),
        ),
    )
    ingest(
        club_a,
        envelope(
            "member.updated",
            {"member_id": "M1", "email": "old@example.com", "tier": "Silver", "address": {"city": "Durban"}},
            club=club_a,
            at=ago(days=30),
        ),
    )
    profile = the_profile(club_a)
    assert (profile.primary_email, profile.membership_tier) == ("new@example.com", "Gold")
    assert profile.city == "Durban"  # nothing newer had set it
    assert profile.field_sources["primary_email"]["source"] == "scl"


def test_a_lower_precedence_source_does_not_overwrite_a_higher_one(club_a):
    ingest(
        club_a,
        envelope(
            "member.created",
            {"member_id": "M1", "first_name": "Annabel", "handicap_id": "H1"},
            club=club_a,
            at=ago(days=10),
        ),
    )
    ingest(
        club_a,
        envelope(
            "player.updated",
            {"player_id": "P1", "handicap_id": "H1", "first_name": "Annie", "home_course": "East"},
            club=club_a,
            at=ago(days=1),
        ),
    )
    profile = the_profile(club_a)
    assert profile.first_name == "Annabel" and profile.home_course == "East"


def test_a_staff_edit_outranks_every_source(club_a):
    from crm.services.profiles import profile_save_by_staff

    ingest(club_a, envelope("member.created", {"member_id": "M1", "first_name": "Ann"}, club=club_a, at=ago(days=2)))
    profile = the_profile(club_a)
    profile.first_name = "Anne"
    staff = Actor.for_user(UserFactory())
    profile_save_by_staff(club=club_a, actor=staff, profile=profile, changed_fields=["first_name"])
    ingest(club_a, envelope("member.updated", {"member_id": "M1", "first_name": "Ann"}, club=club_a))
    assert the_profile(club_a).first_name == "Anne"


def test_consent_changes_only_through_messaging_and_the_newest_wins(club_a):
    ingest(
        club_a,
        envelope(
            "consent.updated",
            {"contact_id": "C1", "channels": {"email": True, "sms": True}},
            club=club_a,
            at=ago(days=1),
        ),
    )
    ingest(
        club_a,
        envelope("consent.updated", {"contact_id": "C1", "channels": {"email": False}}, club=club_a, at=ago(days=5)),
    )
    ingest(
        club_a, envelope("message.unsubscribed", {"contact_id": "C1", "message_id": "X", "channel": "sms"}, club=club_a)
    )
    profile = the_profile(club_a)
    assert (profile.email_opt_in, profile.sms_opt_in) == (True, False)
    # SCL has no say on consent: the catalog gives it no consent fields and nothing maps onto them.
    ingest(club_a, envelope("member.updated", {"member_id": "M9", "email_opt_in": True}, club=club_a))
    assert (
        not CustomerProfile.objects.for_club(club_a)
        .filter(member_number="", email_opt_in=True, identifiers__kind="scl_member_id")
        .exists()
    )


def test_membership_status_follows_the_lifecycle_of_scl_events(club_a):
    ingest(club_a, envelope("member.created", {"member_id": "M1", "status": "prospect"}, club=club_a, at=ago(days=9)))
    ingest(
        club_a,
        envelope("membership.renewed", {"member_id": "M1", "renewal_on": "2027-01-31"}, club=club_a, at=ago(days=8)),
    )
    assert the_profile(club_a).membership_status == "active"
    ingest(
        club_a,
        envelope("membership.lapsed", {"member_id": "M1", "lapsed_on": "2026-11-01"}, club=club_a, at=ago(days=2)),
    )
    profile = the_profile(club_a)
    assert profile.membership_status == "lapsed" and profile.membership_lapsed_on == date(2026, 11, 1)
    assert profile.membership_renewal_on == date(2027, 1, 31)


def test_rounds_count_once_per_event_and_last_round_is_the_latest(club_a):
    events = [
        envelope("round.completed", {"player_id": "P1", "round_id": f"R{n}"}, club=club_a, at=ago(days=n))
        for n in (3, 1, 2)
    ]
    ingest(club_a, *events)
    ingest(club_a, *events)  # redelivered: duplicates
    events_process(event_ids=list(InboundEvent.objects.for_club(club_a).values_list("pk", flat=True)))
    profile = the_profile(club_a)
    assert profile.rounds_played == 3
    assert abs(profile.last_round_at - ago(days=1)) < timedelta(minutes=1)
    assert Activity.objects.for_club(club_a).count() == 3


def test_reprocessing_a_processed_event_changes_nothing(club_a):
    outcome = ingest(club_a, envelope("round.completed", {"player_id": "P1", "round_id": "R1"}, club=club_a))
    before = the_profile(club_a)
    summary = events_process(event_ids=outcome.accepted_ids)
    assert summary.processed == 0 and summary.skipped == 1
    after = the_profile(club_a)
    assert (after.rounds_played, after.updated_at) == (before.rounds_played, before.updated_at)
    assert Activity.objects.for_club(club_a).count() == 1


def test_an_invalid_event_is_rejected_with_reasons_and_changes_nothing_else(club_a):
    outcome = ingest(
        club_a,
        envelope("booking.created", {"player_id": "P1", "booking_id": "B1", "tee_time": "next tuesday"}, club=club_a),
    )
    assert outcome.results[0].status == "rejected"
    assert outcome.results[0].errors == [{"path": "data.tee_time", "message": "must be an ISO 8601 date-time"}]
    assert InboundEvent.objects.for_club(club_a).get().status == "rejected"
    assert not CustomerProfile.objects.for_club(club_a).exists() and not Activity.objects.for_club(club_a).exists()


def test_an_unreadable_phone_is_dropped_with_a_warning_not_the_whole_member(club_a):
    ingest(club_a, envelope("member.created", {"member_id": "M1", "first_name": "Ann", "phone": "12"}, club=club_a))
    profile = the_profile(club_a)
    assert profile.first_name == "Ann" and profile.primary_phone == ""
    assert "phone" in InboundEvent.objects.for_club(club_a).get().warnings[0]


def test_tournament_entries_and_cancellation(club_a):
    ingest(club_a, envelope("tournament.created", SAMPLE_DATA["tournament.created"], club=club_a, at=ago(days=5)))
    ingest(
        club_a,
        *[
            envelope(
                "tournament.entry_created", {"player_id": f"P{n}", "tournament_id": "T1"}, club=club_a, at=ago(days=4)
            )
            for n in range(3)
        ],
    )
    ingest(
        club_a, envelope("tournament.updated", {"tournament_id": "T1", "name": "Old name"}, club=club_a, at=ago(days=6))
    )
    ingest(club_a, envelope("tournament.cancelled", {"tournament_id": "T1"}, club=club_a, at=ago(days=1)))
    tournament = Tournament.objects.for_club(club_a).get()
    assert (tournament.entries_count, tournament.status, tournament.name) == (3, "cancelled", "Club Champs")


def test_a_failing_event_is_parked_with_backoff_and_the_rest_of_the_batch_goes_through(club_a, monkeypatch):
    from crm.events import apply

    def explode(applying):
        raise RuntimeError("handler bug")

    monkeypatch.setitem(apply.PERSON_HANDLERS, "payment.failed", explode)
    outcome = ingest(
        club_a,
        envelope("member.created", {"member_id": "M1"}, club=club_a),
        envelope("payment.failed", {"member_id": "M1", "amount": 10}, club=club_a),
        envelope("member.created", {"member_id": "M2"}, club=club_a),
    )
    statuses = dict(InboundEvent.objects.for_club(club_a).values_list("type", "status").order_by("pk")[1:2])
    assert statuses == {"payment.failed": "failed"}
    assert CustomerProfile.objects.for_club(club_a).count() == 2
    failed = InboundEvent.objects.for_club(club_a).get(status="failed")
    assert failed.attempts == 1 and failed.next_attempt_at is not None
    assert "handler bug" in failed.errors[0]["message"]
    # Not due yet: the sweeper leaves it alone. After the fix and the backoff, it goes through.
    assert events_process_pending(club=club_a).processed == 0
    monkeypatch.undo()
    InboundEvent.objects.for_club(club_a).filter(pk=failed.pk).update(next_attempt_at=ago(seconds=1))
    assert events_process_pending(club=club_a).processed == 1
    assert len(outcome.accepted_ids) == 3


def test_a_batch_out_of_time_leaves_its_events_pending_for_the_tick_instead_of_failing_one(club_a, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from crm.events import apply

    def out_of_time(applying):
        raise SoftTimeLimitExceeded

    raw_events = [envelope("member.created", {"member_id": "M1"}, club=club_a)]
    stored = events_store(club=club_a, raw_events=raw_events, transport="test", enqueue=False)
    monkeypatch.setitem(apply.PERSON_HANDLERS, "member.created", out_of_time)

    with pytest.raises(SoftTimeLimitExceeded):
        events_process(event_ids=stored.accepted_ids)

    event = InboundEvent.objects.for_club(club_a).get()
    assert (event.status, event.attempts, event.errors) == ("received", 0, [])


def test_replay_requeues_rejected_events_that_now_pass(club_a, monkeypatch):
    from crm.events import catalog

    # A catalog too strict for what SCL really sends (the bug), then the fix, then a replay.
    spec = catalog.CATALOG_BY_KEY[("scl", "member.created")]
    monkeypatch.setitem(spec.optional, "tier", catalog.Field("string", max_length=5))
    outcome = ingest(club_a, envelope("member.created", {"member_id": "M1", "tier": "Platinum"}, club=club_a))
    assert outcome.results[0].status == "rejected"
    event = InboundEvent.objects.for_club(club_a).get()
    assert events_replay(club=club_a, event_ids=[event.pk], actor=Actor.system())["still_invalid"] == 1
    monkeypatch.undo()
    assert events_replay(club=club_a, event_ids=[event.pk], actor=Actor.system())["queued"] == 1
    event.refresh_from_db()
    assert event.status == "processed" and event.transport == "replay"
    assert the_profile(club_a).membership_tier == "Platinum"


def test_events_of_one_club_never_touch_another(club_a, club_b):
    ingest(club_a, envelope("member.created", {"member_id": "M1", "first_name": "Alpha"}, club=club_a))
    ingest(club_b, envelope("member.created", {"member_id": "M1", "first_name": "Bravo"}, club=club_b))
    assert the_profile(club_a).first_name == "Alpha" and the_profile(club_b).first_name == "Bravo"
    wrong = events_store(
        club=club_a, raw_events=[envelope("member.created", {"member_id": "M2"}, club=club_b)], transport="test"
    )
    assert wrong.results[0].status == "rejected"
    assert CustomerProfile.objects.for_club(club_a).count() == 1


def test_a_batch_that_links_a_contact_by_email_carries_its_other_events_along(club_a):
    """contact.created matches the member by email; message.sent (contact id only) must follow."""
    ingest(club_a, envelope("member.created", {"member_id": "M1", "email": "ann@alpha.test"}, club=club_a))
    ingest(
        club_a,
        envelope(
            "message.sent", {"contact_id": "C1", "message_id": "m1", "channel": "email"}, club=club_a, at=ago(days=2)
        ),
        envelope("contact.created", {"contact_id": "C1", "email": "ann@alpha.test"}, club=club_a, at=ago(days=1)),
        envelope("consent.updated", {"contact_id": "C1", "channels": {"email": True}}, club=club_a, at=ago(hours=1)),
    )
    profile = the_profile(club_a)
    assert profile.email_opt_in is True
    assert profile.activities.count() == 4
    assert not InboundEvent.objects.for_club(club_a).exclude(warnings=[]).exists()


def test_entries_that_arrive_before_their_tournament_are_counted_when_it_arrives(club_a):
    entry = {"tournament_id": "T1", "player_id": "P1"}
    ingest(club_a, envelope("tournament.entry_created", entry, club=club_a, at=ago(days=3)))
    ingest(club_a, envelope("tournament.entry_created", {**entry, "player_id": "P2"}, club=club_a, at=ago(days=2)))
    created = {"tournament_id": "T1", "name": "Spring Open", "starts_at": "2027-09-01T07:30:00+02:00"}
    ingest(club_a, envelope("tournament.created", created, club=club_a, at=ago(days=10)))
    ingest(club_a, envelope("tournament.entry_created", {**entry, "player_id": "P3"}, club=club_a))
    assert Tournament.objects.for_club(club_a).get().entries_count == 3


def test_a_batch_out_of_time_is_split_until_the_slow_event_is_alone_and_recorded_as_failed(club_a, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from crm.events import apply
    from crm.tasks import process_inbound_events

    def out_of_time(applying):
        raise SoftTimeLimitExceeded

    raw_events = [
        envelope("member.created", {"member_id": "M1"}, club=club_a),
        envelope("member.created", {"member_id": "M2"}, club=club_a),
        envelope("member.created", {"member_id": "M3"}, club=club_a),
    ]
    stored = events_store(club=club_a, raw_events=raw_events, transport="test", enqueue=False)
    slow_id = stored.accepted_ids[1]
    original = apply.PERSON_HANDLERS["member.created"]

    def slow_for_one(applying):
        if applying.row.pk == slow_id:
            return out_of_time(applying)
        return original(applying)

    monkeypatch.setitem(apply.PERSON_HANDLERS, "member.created", slow_for_one)

    process_inbound_events.delay(stored.accepted_ids)  # eager: the halves run in place

    events = {event.pk: event for event in InboundEvent.objects.for_club(club_a)}
    assert events[slow_id].status == "failed" and events[slow_id].attempts == 1
    assert "time limit" in events[slow_id].errors[0]["message"]
    assert events[slow_id].next_attempt_at is not None  # backoff: the tick won't hand it back at once
    assert {pk: event.status for pk, event in events.items() if pk != slow_id} == dict.fromkeys(
        set(stored.accepted_ids) - {slow_id}, "processed"
    )
