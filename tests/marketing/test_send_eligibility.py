"""Who a send may reach: consent per channel, suppressions, erasure, an address, the club's
frequency cap and quiet hours — checked when a send is enqueued and again when it is dispatched."""

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode
from crm.kernel.actor import Actor
from crm.models import AuditAction, AuditLog, CustomerProfile, Role
from marketing.errors import MarketingError, MarketingErrorCode
from marketing.models import MessageSend, SendPolicy, SendSkipReason, SendStatus, Suppression, SuppressionReason
from marketing.services.sends import SendSource, quiet_hours_end, sends_dispatch, sends_enqueue, suppression_add
from tests.concurrency import in_threads
from tests.conftest import staff_in
from tests.factories.sends import ReachableProfileFactory

SYSTEM = Actor.system()
SPRING = SendSource.campaign_run(1)
AUTUMN = SendSource.campaign_run(2)
BIRTHDAY = SendSource.journey_step(7)


def enqueue(club, profiles, *, source=SPRING, channel="email", now=None):
    return sends_enqueue(
        club=club,
        source=source,
        channel=channel,
        profile_ids=[p.pk for p in profiles],
        body="Spring open day on Saturday",
        subject="Spring open day",
        now=now,
    )


def row(club, profile, source=SPRING) -> MessageSend:
    return MessageSend.objects.for_club(club).get(source_kind=source.kind, source_id=source.id, profile=profile)


def messages_to(simulator) -> list[str]:
    return sorted(message["external_id"] for message in simulator.state()["messages"])


def update(club, profile, **fields) -> None:
    CustomerProfile.objects.for_club(club).filter(pk=profile.pk).update(**fields)


def add(club, *, actor=SYSTEM, channel="email", reason=SuppressionReason.BOUNCED, **names) -> list[Suppression]:
    return suppression_add(club=club, actor=actor, channel=channel, reason=reason, **names)


# --- consent --------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["email", "sms", "push", "whatsapp"])
def test_a_profile_not_opted_in_for_the_channel_is_skipped(club_a, channel):
    opted_out = ReachableProfileFactory(club=club_a, **{f"{channel}_opt_in": False})
    result = enqueue(club_a, [opted_out], channel=channel)
    assert result.skipped == {SendSkipReason.NO_CONSENT: 1}
    assert row(club_a, opted_out).skip_reason == SendSkipReason.NO_CONSENT


def test_consent_for_one_channel_does_not_open_another(club_a):
    email_only = ReachableProfileFactory(club=club_a, sms_opt_in=False)
    assert enqueue(club_a, [email_only], channel="email").pending == 1
    assert enqueue(club_a, [email_only], source=AUTUMN, channel="sms").skipped == {SendSkipReason.NO_CONSENT: 1}


def test_consent_withdrawn_after_enqueue_is_respected_at_dispatch(club_a, messaging_simulator):
    stays, withdraws = ReachableProfileFactory.create_batch(2, club=club_a)
    enqueue(club_a, [stays, withdraws])
    update(club_a, withdraws, email_opt_in=False)
    result = sends_dispatch(club=club_a, source=SPRING)
    assert (result.sent, result.skipped) == (1, {SendSkipReason.NO_CONSENT: 1})
    assert messages_to(messaging_simulator) == [str(stays.pk)]
    assert row(club_a, withdraws).status == SendStatus.SKIPPED


# --- suppression, erasure, merges, addresses ------------------------------------------------


def test_a_suppressed_profile_is_skipped_on_that_channel_only(club_a):
    bounced = ReachableProfileFactory(club=club_a)
    add(club_a, channel="email", reason=SuppressionReason.BOUNCED, profile=bounced)
    assert enqueue(club_a, [bounced]).skipped == {SendSkipReason.SUPPRESSED: 1}
    assert enqueue(club_a, [bounced], source=AUTUMN, channel="sms").pending == 1


def test_a_suppressed_address_stops_whichever_profile_holds_it(club_a):
    holder = ReachableProfileFactory(club=club_a, primary_email="gone@alpha.test")
    add(club_a, channel="email", reason=SuppressionReason.COMPLAINED, address=" Gone@Alpha.test ")
    assert enqueue(club_a, [holder]).skipped == {SendSkipReason.SUPPRESSED: 1}


def test_a_suppression_added_after_enqueue_is_respected_at_dispatch(club_a, messaging_simulator):
    person = ReachableProfileFactory(club=club_a, primary_phone="+27820000001")
    enqueue(club_a, [person], channel="sms")
    add(club_a, channel="sms", reason=SuppressionReason.UNSUBSCRIBED, address="082 000 0001")
    result = sends_dispatch(club=club_a, source=SPRING)
    assert result.skipped == {SendSkipReason.SUPPRESSED: 1}
    assert messages_to(messaging_simulator) == []


def test_a_profile_suppression_does_not_suppress_everyone_without_an_address(club_a):
    # A suppression of a profile alone stores no address: it must not match profiles that have none.
    someone = ReachableProfileFactory(club=club_a)
    add(club_a, channel="email", reason=SuppressionReason.BOUNCED, profile=someone)
    no_email = ReachableProfileFactory(club=club_a, primary_email="")
    assert enqueue(club_a, [no_email]).skipped == {SendSkipReason.NO_ADDRESS: 1}


def test_another_clubs_suppression_of_the_same_address_does_not_apply(club_a, club_b):
    person = ReachableProfileFactory(club=club_a, primary_email="shared@example.test")
    add(club_b, channel="email", reason=SuppressionReason.BOUNCED, address="shared@example.test")
    assert enqueue(club_a, [person]).pending == 1


def test_an_erased_profile_is_skipped(club_a):
    erased = ReachableProfileFactory(club=club_a, is_erased=True)
    assert enqueue(club_a, [erased]).skipped == {SendSkipReason.ERASED: 1}


def test_a_merged_away_profile_enqueued_stands_for_its_survivor(club_a):
    merged, survivor = ReachableProfileFactory.create_batch(2, club=club_a)
    update(club_a, merged, merged_into=survivor)
    result = enqueue(club_a, [merged, survivor])
    assert (result.created, result.pending) == (1, 1)
    assert row(club_a, survivor).status == SendStatus.PENDING
    assert not MessageSend.objects.for_club(club_a).filter(profile=merged).exists()


def test_a_profile_merged_twice_is_followed_to_the_last_survivor(club_a):
    first, second, last = ReachableProfileFactory.create_batch(3, club=club_a)
    update(club_a, first, merged_into=second)
    update(club_a, second, merged_into=last)
    assert enqueue(club_a, [first]).pending == 1
    assert row(club_a, last).status == SendStatus.PENDING


def test_a_row_whose_profile_is_merged_away_after_enqueue_is_skipped_as_merged(club_a, messaging_simulator):
    merged, survivor = ReachableProfileFactory.create_batch(2, club=club_a)
    enqueue(club_a, [merged])
    update(club_a, merged, merged_into=survivor)
    assert sends_dispatch(club=club_a, source=SPRING).skipped == {SendSkipReason.MERGED: 1}
    assert messages_to(messaging_simulator) == []


def test_a_suppression_of_a_merged_away_profile_still_stops_the_person(club_a):
    merged, survivor = ReachableProfileFactory.create_batch(2, club=club_a)
    add(club_a, profile=merged)
    update(club_a, merged, merged_into=survivor)
    assert enqueue(club_a, [survivor]).skipped == {SendSkipReason.SUPPRESSED: 1}


def test_a_suppression_two_merges_back_still_stops_the_person(club_a):
    first, second, last = ReachableProfileFactory.create_batch(3, club=club_a)
    add(club_a, profile=first)
    update(club_a, first, merged_into=second)
    update(club_a, second, merged_into=last)
    assert enqueue(club_a, [last]).skipped == {SendSkipReason.SUPPRESSED: 1}


def test_a_source_that_reached_a_merged_away_profile_does_not_reach_its_survivor_again(club_a, messaging_simulator):
    merged, survivor = ReachableProfileFactory.create_batch(2, club=club_a)
    enqueue(club_a, [merged])
    sends_dispatch(club=club_a, source=SPRING)
    update(club_a, merged, merged_into=survivor)
    assert enqueue(club_a, [survivor]).skipped == {SendSkipReason.ALREADY_SENT: 1}
    assert messages_to(messaging_simulator) == [str(merged.pk)]


def test_a_profile_erased_after_enqueue_is_not_sent(club_a, messaging_simulator):
    person = ReachableProfileFactory(club=club_a)
    enqueue(club_a, [person])
    update(club_a, person, is_erased=True, primary_email="")
    assert sends_dispatch(club=club_a, source=SPRING).skipped == {SendSkipReason.ERASED: 1}
    assert messages_to(messaging_simulator) == []


def test_a_profile_without_an_address_for_the_channel_is_skipped_but_push_needs_none(club_a):
    no_phone = ReachableProfileFactory(club=club_a, primary_phone="")
    assert enqueue(club_a, [no_phone], channel="sms").skipped == {SendSkipReason.NO_ADDRESS: 1}
    assert enqueue(club_a, [no_phone], source=AUTUMN, channel="push").pending == 1


# --- the frequency cap ----------------------------------------------------------------------


@pytest.fixture
def one_a_week(club_a):
    return SendPolicy.objects.create(club=club_a, frequency_cap_messages=1, frequency_cap_days=7)


def test_the_cap_counts_what_other_sources_sent_within_the_window(club_a, one_a_week, messaging_simulator):
    person = ReachableProfileFactory(club=club_a)
    enqueue(club_a, [person])
    assert sends_dispatch(club=club_a, source=SPRING).sent == 1
    assert enqueue(club_a, [person], source=BIRTHDAY).skipped == {SendSkipReason.FREQUENCY_CAP: 1}


def test_the_cap_is_per_channel(club_a, one_a_week, messaging_simulator):
    person = ReachableProfileFactory(club=club_a)
    enqueue(club_a, [person])
    sends_dispatch(club=club_a, source=SPRING)
    assert enqueue(club_a, [person], source=AUTUMN, channel="sms").pending == 1


def test_messages_older_than_the_window_do_not_count(club_a, one_a_week, messaging_simulator):
    person = ReachableProfileFactory(club=club_a)
    enqueue(club_a, [person])
    sends_dispatch(club=club_a, source=SPRING)
    MessageSend.objects.for_club(club_a).update(sent_at=timezone.now() - timedelta(days=8))
    enqueue(club_a, [person], source=AUTUMN)
    assert sends_dispatch(club=club_a, source=AUTUMN).sent == 1
    assert len(messages_to(messaging_simulator)) == 2


def test_two_sources_enqueued_together_send_only_what_the_cap_allows(club_a, one_a_week, messaging_simulator):
    people = ReachableProfileFactory.create_batch(3, club=club_a)
    assert enqueue(club_a, people).pending == 3
    assert enqueue(club_a, people, source=AUTUMN).pending == 3  # nothing sent yet
    assert sends_dispatch(club=club_a, source=SPRING).sent == 3
    second = sends_dispatch(club=club_a, source=AUTUMN)
    assert (second.sent, second.skipped) == (0, {SendSkipReason.FREQUENCY_CAP: 3})
    assert len(messages_to(messaging_simulator)) == 3


def test_the_cap_counts_what_was_sent_to_a_profile_since_merged_into_this_one(club_a, one_a_week, messaging_simulator):
    merged, survivor = ReachableProfileFactory.create_batch(2, club=club_a)
    enqueue(club_a, [merged])
    sends_dispatch(club=club_a, source=SPRING)
    update(club_a, merged, merged_into=survivor)
    assert enqueue(club_a, [survivor], source=AUTUMN).skipped == {SendSkipReason.FREQUENCY_CAP: 1}


def test_a_cap_of_two_lets_the_second_message_through_and_stops_the_third(club_a, messaging_simulator):
    SendPolicy.objects.create(club=club_a, frequency_cap_messages=2, frequency_cap_days=1)
    person = ReachableProfileFactory(club=club_a)
    for source in (SPRING, AUTUMN):
        enqueue(club_a, [person], source=source)
        sends_dispatch(club=club_a, source=source)
    assert enqueue(club_a, [person], source=BIRTHDAY).skipped == {SendSkipReason.FREQUENCY_CAP: 1}
    assert len(messages_to(messaging_simulator)) == 2


# --- quiet hours ----------------------------------------------------------------------------


def at_local(club, hour: int, minute: int = 0) -> datetime:
    """Today at that local time in the club's timezone (Johannesburg: UTC+2, no daylight saving)."""
    return datetime(2026, 6, 10, hour - 2, minute, tzinfo=UTC)


@pytest.fixture
def quiet_nights(club_a):
    return SendPolicy.objects.create(club=club_a, quiet_hours_start=time(21), quiet_hours_end=time(8))


def test_a_send_enqueued_in_quiet_hours_is_deferred_until_they_end_then_sent(club_a, quiet_nights, messaging_simulator):
    person = ReachableProfileFactory(club=club_a)
    late_evening = at_local(club_a, 22, 30)
    result = enqueue(club_a, [person], now=late_evening)
    assert result.deferred == 1
    deferred = row(club_a, person)
    assert deferred.status == SendStatus.DEFERRED
    assert deferred.due_at == at_local(club_a, 8) + timedelta(days=1)

    at_dawn = sends_dispatch(club=club_a, source=SPRING, clock=lambda: at_local(club_a, 7, 59) + timedelta(days=1))
    assert (at_dawn.sent, at_dawn.batches) == (0, 0)
    assert messages_to(messaging_simulator) == []

    morning = sends_dispatch(club=club_a, source=SPRING, clock=lambda: at_local(club_a, 8, 1) + timedelta(days=1))
    assert morning.sent == 1
    assert row(club_a, person).status == SendStatus.SENT


def test_a_pending_send_dispatched_in_quiet_hours_is_deferred_not_sent(club_a, quiet_nights, messaging_simulator):
    person = ReachableProfileFactory(club=club_a)
    enqueue(club_a, [person], now=at_local(club_a, 20, 55))
    result = sends_dispatch(club=club_a, source=SPRING, clock=lambda: at_local(club_a, 21, 5))
    assert (result.sent, result.deferred) == (0, 1)
    assert row(club_a, person).due_at == at_local(club_a, 8) + timedelta(days=1)
    assert messaging_simulator.requests(path_suffix="/messages/batch") == []


def test_outside_quiet_hours_a_send_goes_at_once(club_a, quiet_nights, messaging_simulator):
    person = ReachableProfileFactory(club=club_a)
    enqueue(club_a, [person], now=at_local(club_a, 12))
    assert sends_dispatch(club=club_a, source=SPRING, clock=lambda: at_local(club_a, 12, 1)).sent == 1


@pytest.mark.parametrize(
    ("start", "end", "local", "ends"),
    [
        (time(21), time(8), (23, 0), (1, 8)),  # spans midnight, before it
        (time(21), time(8), (3, 0), (0, 8)),  # spans midnight, after it
        (time(21), time(8), (8, 0), None),  # the end itself is outside
        (time(12), time(14), (13, 0), (0, 14)),  # within one day
        (time(12), time(14), (11, 59), None),
        (time(9), time(9), (9, 0), None),  # empty
    ],
)
def test_quiet_hours_are_read_in_the_clubs_timezone(club_a, start, end, local, ends):
    policy = SendPolicy(club=club_a, quiet_hours_start=start, quiet_hours_end=end)
    expected = None if ends is None else at_local(club_a, ends[1]) + timedelta(days=ends[0])
    assert quiet_hours_end(club_a, policy, at_local(club_a, *local)) == expected


def test_the_same_moment_is_quiet_at_one_club_and_not_at_another(club_a, club_b):
    evening = datetime(2026, 6, 10, 19, 30, tzinfo=UTC)  # 21:30 in Johannesburg, 20:30 in London
    for club in (club_a, club_b):
        SendPolicy.objects.create(club=club, quiet_hours_start=time(21), quiet_hours_end=time(8))
    johannesburg, london = (ReachableProfileFactory(club=club) for club in (club_a, club_b))
    assert enqueue(club_a, [johannesburg], now=evening).deferred == 1
    assert enqueue(club_b, [london], now=evening).pending == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the race needs concurrent writers; SQLite serialises them (BEGIN IMMEDIATE). CI runs this on PostgreSQL",
)
def test_two_sources_dispatched_at_once_never_exceed_the_cap(club_a, messaging_simulator):
    SendPolicy.objects.create(club=club_a, frequency_cap_messages=1, frequency_cap_days=7)
    people = ReachableProfileFactory.create_batch(30, club=club_a)
    for source in (SPRING, AUTUMN):
        enqueue(club_a, people, source=source)
    unclaimed = [SPRING, AUTUMN]  # list.pop is atomic: each thread dispatches one source
    results = in_threads(2, lambda: sends_dispatch(club=club_a, source=unclaimed.pop(), batch_size=3))
    assert sum(result.sent for result in results) == 30
    assert sum(result.skipped.get(SendSkipReason.FREQUENCY_CAP, 0) for result in results) == 30
    assert messages_to(messaging_simulator) == sorted(str(person.pk) for person in people)


def test_a_suppression_of_another_clubs_profile_answers_as_if_it_did_not_exist(club_a, club_b):
    theirs = ReachableProfileFactory(club=club_b)
    with pytest.raises(CrmError) as refused:
        add(club_a, channel="email", reason=SuppressionReason.MANUAL, profile=theirs)
    assert refused.value.code == CrmErrorCode.NOT_FOUND
    assert not Suppression.objects.unscoped_across_clubs().exists()


@pytest.mark.parametrize(
    ("channel", "reason", "address"),
    [("fax", SuppressionReason.MANUAL, "a@alpha.test"), ("email", "annoyed", "a@alpha.test"), ("email", "manual", "")],
    ids=["not a channel", "not a reason", "nobody named"],
)
def test_a_suppression_staff_got_wrong_is_refused_with_a_marketing_error(club_a, channel, reason, address):
    with pytest.raises(MarketingError) as refused:
        add(club_a, channel=channel, reason=reason, address=address)
    assert refused.value.code == MarketingErrorCode.INVALID_SUPPRESSION


def test_suppressing_the_same_address_twice_keeps_one_suppression(club_a):
    first = add(club_a, address="a@alpha.test")
    again = add(club_a, reason=SuppressionReason.MANUAL, address="A@alpha.test")
    assert again == first
    assert Suppression.objects.for_club(club_a).count() == 1


def test_naming_a_profile_and_an_already_suppressed_address_adds_the_profile_beside_it(club_a):
    person = ReachableProfileFactory(club=club_a, primary_email="old@alpha.test")
    (by_address,) = add(club_a, address="old@alpha.test")
    both = add(club_a, reason=SuppressionReason.MANUAL, profile=person, address="old@alpha.test")
    assert [(s.profile_id, s.address) for s in both] == [(person.pk, ""), (None, "old@alpha.test")]
    assert both[1] == by_address
    update(club_a, person, primary_email="new@alpha.test")
    assert enqueue(club_a, [person]).skipped == {SendSkipReason.SUPPRESSED: 1}


def test_naming_an_already_suppressed_profile_and_a_new_address_suppresses_the_address_too(club_a):
    person = ReachableProfileFactory(club=club_a)
    holder = ReachableProfileFactory(club=club_a, primary_email="shared@alpha.test")
    add(club_a, profile=person)
    add(club_a, profile=person, address="shared@alpha.test")
    assert enqueue(club_a, [person, holder]).skipped == {SendSkipReason.SUPPRESSED: 2}


def test_a_new_suppression_is_audited_with_who_added_it_and_an_existing_one_is_not(club_a):
    staff = Actor.for_user(staff_in(club_a, Role.ADMIN), ip_address="203.0.113.9")
    person = ReachableProfileFactory(club=club_a)
    (suppression,) = add(club_a, actor=staff, reason=SuppressionReason.MANUAL, profile=person, note="asked by phone")
    add(club_a, actor=staff, profile=person)
    entry = AuditLog.objects.for_club(club_a).get(action=AuditAction.SUPPRESSION_ADD)
    assert (entry.actor, entry.ip_address, entry.object_id) == (staff.user, "203.0.113.9", str(suppression.pk))
    assert entry.details == {
        "channel": "email",
        "reason": "manual",
        "profile_id": person.pk,
        "suppression_ids": [suppression.pk],
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the race needs concurrent writers; SQLite serialises them (BEGIN IMMEDIATE). CI runs this on PostgreSQL",
)
def test_two_staff_suppressing_one_address_at_once_get_the_same_suppression(club_a):
    # Twenty rounds of two adds racing for one address: the check-then-insert window is short.
    addresses = [f"race{n}@alpha.test" for n in range(20)]
    rounds = threading.Barrier(2)

    def suppress():
        answered = []
        for address in addresses:
            # A thread that fails leaves the other waiting here until the timeout breaks the barrier.
            rounds.wait(timeout=10)
            answered.append((address, add(club_a, address=address)))
        return answered

    answers = {address: set() for address in addresses}
    for address, (suppression,) in (row for rows in in_threads(2, suppress) for row in rows):
        answers[address].add(suppression.pk)
    assert all(len(pks) == 1 for pks in answers.values())
    assert Suppression.objects.for_club(club_a).count() == 20
