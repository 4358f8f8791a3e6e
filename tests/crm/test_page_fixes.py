"""Marketer pages after the review: search, filters, paging, export, club time, timeline wording."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from crm import selectors
from crm.events.processing import events_process
from crm.events.store import events_store
from crm.models import Activity, Club, CustomerProfile, ProfileIdentifier, Role
from tests.factories import ActivityFactory, ProfileFactory
from tests.factories.events import ago, envelope


def search(club, query: str) -> set[str]:
    found = selectors.profile_search(selectors.profile_active_queryset(club=club), search=query, club=club)
    return {f"{p.first_name} {p.last_name}" for p in found}


# --- 1. Search ----------------------------------------------------------------------------


@pytest.fixture
def surnames(club_a):
    ProfileFactory(club=club_a, first_name="Anna", last_name="van der Merwe")
    ProfileFactory(club=club_a, first_name="Pieter", last_name="du Plessis")
    ProfileFactory(club=club_a, first_name="Mary Jane", last_name="Smith-Jones")
    ProfileFactory(club=club_a, first_name="Derek", last_name="Vance")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("van der Merwe", {"Anna van der Merwe"}),
        ("Merwe", {"Anna van der Merwe"}),
        ("  merwe ", {"Anna van der Merwe"}),
        ("Anna van d", {"Anna van der Merwe"}),
        ("van der", {"Anna van der Merwe", "Derek Vance"}),  # Vance, Derek: each word starts a name
        ("Plessis", {"Pieter du Plessis"}),
        ("jones", {"Mary Jane Smith-Jones"}),
        ("jane smith", {"Mary Jane Smith-Jones"}),
        ("van", {"Anna van der Merwe", "Derek Vance"}),
        ("der", {"Anna van der Merwe", "Derek Vance"}),
        ("erwe", set()),  # a word must start where a name word starts
        ("van der Merwe Smith", set()),
    ],
)
def test_search_finds_multi_word_surnames_by_any_word(club_a, surnames, query, expected):
    assert search(club_a, query) == expected


def test_admin_search_uses_the_same_name_matching(client_for, club_a, surnames):
    client = client_for(club_a, Role.STAFF)
    response = client.get(reverse("admin:crm_customerprofile_changelist"), {"q": "Merwe"})
    assert response.status_code == 200
    assert b"van der Merwe" in response.content and b"du Plessis" not in response.content


def test_search_of_one_club_never_reaches_another(club_a, club_b, surnames):
    ProfileFactory(club=club_b, first_name="Bram", last_name="van der Merwe")
    assert search(club_b, "merwe") == {"Bram van der Merwe"}


# --- 2. The "Unknown" status bucket ------------------------------------------------------


def test_dashboard_unknown_bucket_links_to_profiles_without_a_status(client_for, club_a):
    ProfileFactory(club=club_a, first_name="Nostatus", membership_status="")
    ProfileFactory(club=club_a, first_name="Hasstatus", membership_status="active")
    client = client_for(club_a, Role.VIEWER)
    dashboard = client.get(reverse("dashboard_counts")).content.decode()
    assert 'href="/profiles/?status=none"' in dashboard
    assert 'href="/profiles/?status="' not in dashboard
    listing = client.get(reverse("profile_list"), {"status": "none"})
    names = {p.first_name for p in listing.context["profiles"]}
    assert names == {"Nostatus"}


def test_an_unknown_status_value_filters_nothing(client_for, club_a):
    ProfileFactory.create_batch(2, club=club_a)
    client = client_for(club_a, Role.VIEWER)
    response = client.get(reverse("profile_list"), {"status": "bogus"})
    assert response.context["page"].paginator.count == 2
    assert not response.context["filters"].active


# --- 3. Profile list: export, paging, empty results --------------------------------------


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_follows_status_and_search_like_the_list(client_for, club_a):
    ProfileFactory(club=club_a, first_name="Anna", last_name="van der Merwe", membership_status="lapsed")
    ProfileFactory(club=club_a, first_name="Bets", last_name="van der Merwe", membership_status="active")
    ProfileFactory(club=club_a, first_name="Carl", last_name="Other", membership_status="lapsed")
    client = client_for(club_a, Role.ADMIN)
    rows = read_csv(client.get(reverse("profile_export"), {"q": "merwe", "status": "lapsed"}))
    assert [row["first_name"] for row in rows] == ["Anna"]
    rows = read_csv(client.get(reverse("profile_export"), {"status": "lapsed"}))
    assert sorted(row["first_name"] for row in rows) == ["Anna", "Carl"]


def test_export_link_carries_the_filters_on_the_page_and_after_a_live_search(client_for, club_a):
    ProfileFactory(club=club_a, last_name="van der Merwe", membership_status="lapsed")
    client = client_for(club_a, Role.ADMIN)
    page = client.get(reverse("profile_list"), {"q": "van der", "status": "lapsed"}).content.decode()
    assert 'href="/profiles/export.csv?q=van+der&amp;status=lapsed"' in page
    fragment = client.get(reverse("profile_list"), {"q": "merwe", "status": ""}, HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert "<html" not in body
    assert 'href="/profiles/export.csv?q=merwe"' in body
    assert fragment["HX-Push-Url"] == "/profiles/?q=merwe"


def test_profile_list_pages_through_everyone_with_a_total(client_for, club_a, monkeypatch):
    monkeypatch.setattr(selectors, "PROFILE_PAGE_SIZE", 5)
    for index in range(12):
        ProfileFactory(club=club_a, first_name="P", last_name=f"Name{index:02d}")
    client = client_for(club_a, Role.VIEWER)
    seen = []
    for number in (1, 2, 3):
        response = client.get(reverse("profile_list"), {"page": number})
        seen += [p.last_name for p in response.context["profiles"]]
    assert seen == [f"Name{index:02d}" for index in range(12)]
    first = client.get(reverse("profile_list")).content.decode()
    assert "12 profiles" in first and "Page 1 of 3" in first and "Next" in first
    last = client.get(reverse("profile_list"), {"page": 3}, HTTP_HX_REQUEST="true")
    assert "Previous" in last.content.decode() and "Next →" not in last.content.decode()
    assert last["HX-Push-Url"] == "/profiles/?page=3"
    # Past the end or garbled: the nearest real page, not an error.
    assert client.get(reverse("profile_list"), {"page": 99}).context["page"].number == 3
    assert client.get(reverse("profile_list"), {"page": "x"}).context["page"].number == 1


def test_profile_list_page_is_a_count_and_one_page_query(club_a, django_assert_num_queries):
    ProfileFactory.create_batch(8, club=club_a)
    filters = selectors.ProfileFilters(search="", status="active")
    with django_assert_num_queries(2):
        page = selectors.profile_list_page(club=club_a, filters=filters, page=1)
        assert page.paginator.count == 8 and len(list(page.object_list)) == 8


def test_an_empty_filtered_list_says_nothing_matches(client_for, club_a):
    ProfileFactory(club=club_a, membership_status="active")
    client = client_for(club_a, Role.VIEWER)
    body = client.get(reverse("profile_list"), {"status": "resigned"}).content.decode()
    assert "No profiles match these filters (status Resigned)" in body
    assert "No profiles yet" not in body


def test_an_empty_club_says_profiles_arrive_from_the_systems(client_for, club_a):
    body = client_for(club_a, Role.VIEWER).get(reverse("profile_list")).content.decode()
    assert "No profiles yet" in body and "match these filters" not in body


def test_history_restore_gets_the_whole_page(client_for, club_a):
    client = client_for(club_a, Role.VIEWER)
    response = client.get(
        reverse("profile_list"), {"q": "x"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert b"<html" in response.content


# --- 4. Club time -------------------------------------------------------------------------

AT = datetime.datetime(2026, 1, 15, 10, 0, tzinfo=datetime.UTC)


def test_pages_show_times_in_the_clubs_time_zone(client_for, club_a, profile_a):
    ActivityFactory(profile=profile_a, occurred_at=AT, summary="Played 18 holes")
    body = client_for(club_a, Role.VIEWER).get(reverse("profile_detail", args=[profile_a.pk])).content.decode()
    assert "15 Jan 2026 12:00" in body  # Johannesburg is UTC+2
    assert timezone.get_current_timezone_name() == "UTC"  # deactivated after the request


def test_another_club_sees_its_own_zone(client_for, club_b):
    profile = ProfileFactory(club=club_b)
    ActivityFactory(profile=profile, occurred_at=AT.replace(month=7))
    body = client_for(club_b, Role.VIEWER).get(reverse("profile_detail", args=[profile.pk])).content.decode()
    assert "15 Jul 2026 11:00" in body  # London in summer is UTC+1


@pytest.mark.parametrize("bad_zone", ["", "Not/AZone", "America", "../../etc/passwd"])
def test_an_unusable_club_time_zone_falls_back_to_utc(client_for, club_a, profile_a, bad_zone):
    Club.objects.filter(pk=club_a.pk).update(timezone=bad_zone)
    ActivityFactory(profile=profile_a, occurred_at=AT)
    response = client_for(club_a, Role.VIEWER).get(reverse("profile_detail", args=[profile_a.pk]))
    assert response.status_code == 200
    assert "15 Jan 2026 10:00" in response.content.decode()


# --- 5. Timeline wording ------------------------------------------------------------------


def ingest(club, name: str, data: dict) -> str:
    """Store and process one event (in this transaction: no on-commit enqueue) → its summary."""
    raw = [envelope(name, data, club=club, at=ago(days=1))]
    outcome = events_store(club=club, raw_events=raw, transport="test", enqueue=False)
    assert events_process(event_ids=outcome.accepted_ids).processed == 1
    return Activity.objects.for_club(club).filter(type=name).latest("pk").summary


def test_booking_summaries_pluralise_and_say_the_tee_time(club_a):
    tee = "2026-12-12T07:30:00+02:00"
    base = {"player_id": "P1", "tee_time": tee}
    one = ingest(club_a, "booking.created", {**base, "booking_id": "B1", "course": "Lakes", "players": 1})
    assert one == "Booked a tee time for Sat 12 Dec 2026 07:30 (Lakes, 1 player)"
    assert ingest(club_a, "booking.checked_in", {**base, "booking_id": "B1"}) == "Checked in for Sat 12 Dec 2026 07:30"
    assert (
        ingest(club_a, "booking.no_show", {**base, "booking_id": "B2"}) == "Did not show up for Sat 12 Dec 2026 07:30"
    )
    cancelled = ingest(club_a, "booking.cancelled", {**base, "booking_id": "B3", "reason": "Rain"})
    assert cancelled == "Cancelled a booking for Sat 12 Dec 2026 07:30: Rain"
    assert ingest(club_a, "booking.checked_in", {"player_id": "P1", "booking_id": "B4"}) == "Checked in"


def test_unsubscribe_and_spam_summaries_are_whole_sentences_and_turn_consent_off(club_a):
    ingest(club_a, "consent.updated", {"contact_id": "C1", "channels": {"email": True, "sms": True}})
    message = {"contact_id": "C1", "message_id": "X1"}
    unsubscribed = ingest(club_a, "message.unsubscribed", {**message, "channel": "email"})
    assert unsubscribed == "Unsubscribed from email"
    with_subject = ingest(club_a, "message.unsubscribed", {**message, "channel": "email", "subject": "Spring Open"})
    assert with_subject == "Unsubscribed from email (from 'Spring Open')"
    complained = ingest(club_a, "message.complained", {**message, "message_id": "X2", "channel": "sms"})
    assert complained == "Reported an SMS as spam; SMS turned off"
    profile = CustomerProfile.objects.for_club(club_a).get()
    assert profile.email_opt_in is False and profile.sms_opt_in is False


def test_timeline_shows_amounts_once_with_currency_and_never_zero(client_for, club_a, profile_a):
    ActivityFactory(
        profile=profile_a,
        source="scl",
        type="payment.received",
        summary="Payment received: ZAR 980.00 (Monthly subscription)",
        amount=Decimal("980.00"),
    )
    ActivityFactory(profile=profile_a, type="booking.created", summary="Booked a tee time", amount=Decimal("0"))
    ActivityFactory(
        profile=profile_a,
        source="scl",
        type="membership.renewed",
        summary="Renewed membership until 31 Dec 2026",
        amount=Decimal("10680"),
    )
    body = client_for(club_a, Role.VIEWER).get(reverse("profile_detail", args=[profile_a.pk])).content.decode()
    assert body.count("980.00") == 1
    assert "· 0.00" not in body and "Booked a tee time</p>" in body
    assert "Renewed membership until 31 Dec 2026 · ZAR 10,680.00" in body


def test_timeline_and_identifiers_show_labels_not_codes(client_for, club_a, profile_a):
    ActivityFactory(profile=profile_a, source="teetime")
    now = timezone.now()
    for kind, value in (("teetime_player_id", "TT-1"), ("loyalty_card", "LC-9")):
        ProfileIdentifier.objects.create(
            club=club_a, profile=profile_a, kind=kind, value=value, source="crm", first_seen_at=now, last_seen_at=now
        )
    body = client_for(club_a, Role.VIEWER).get(reverse("profile_detail", args=[profile_a.pk])).content.decode()
    assert '<span class="chip">TeeTime (golf)</span>' in body
    assert "TeeTime player id" in body and "teetime_player_id" not in body
    assert "Loyalty card" in body  # a custom kind, named from its code


# --- 6. Lifecycle is not scored yet -------------------------------------------------------


def test_dashboard_does_not_chart_unscored_lifecycle_stages(client_for, club_a):
    ProfileFactory.create_batch(3, club=club_a)
    body = client_for(club_a, Role.VIEWER).get(reverse("dashboard")).content.decode()
    assert "Profiles by lifecycle stage" not in body
    assert "arrive with engagement scoring" in body


def test_profile_pages_do_not_state_an_unscored_lifecycle(client_for, club_a, profile_a):
    client = client_for(club_a, Role.VIEWER)
    detail = client.get(reverse("profile_detail", args=[profile_a.pk])).content.decode()
    assert "Not scored yet" in detail and "<dd>New" not in detail
    listing = client.get(reverse("profile_list")).content.decode()
    assert "<td>New</td>" not in listing
    CustomerProfile.objects.for_club(club_a).filter(pk=profile_a.pk).update(
        lifecycle_stage="at_risk", engagement_score=31
    )
    detail = client.get(reverse("profile_detail", args=[profile_a.pk])).content.decode()
    assert "At risk · engagement 31" in detail


# --- 7. Layout and timeline filters in the address --------------------------------------


def test_long_emails_wrap_before_the_at_or_truncate_with_a_tooltip(client_for, club_a):
    email = "alexandra.vandermerwe-smithson@example.net"
    profile = ProfileFactory(club=club_a, primary_email=email)
    now = timezone.now()
    ProfileIdentifier.objects.create(
        club=club_a, profile=profile, kind="email", value=email, source="crm", first_seen_at=now, last_seen_at=now
    )
    body = client_for(club_a, Role.VIEWER).get(reverse("profile_detail", args=[profile.pk])).content.decode()
    assert f'title="{email}"><span>alexandra.vandermerwe-smithson</span><span>@example.net</span></span>' in body
    assert f'<span class="truncate" title="{email}">{email}</span>' in body


def test_timeline_filters_go_into_the_address_and_survive_a_reload(client_for, club_a, profile_a):
    ActivityFactory(profile=profile_a, source="scl", type="membership.renewed", summary="Renewed Gold")
    ActivityFactory(profile=profile_a, source="teetime", type="round.completed", summary="Played 18 holes")
    client = client_for(club_a, Role.VIEWER)
    url = reverse("profile_detail", args=[profile_a.pk])
    swap = client.get(url, {"fragment": "timeline", "source": "scl", "type": ""}, HTTP_HX_REQUEST="true")
    assert swap["HX-Push-Url"] == f"{url}?source=scl"
    reload = client.get(swap["HX-Push-Url"]).content.decode()
    assert "Renewed Gold" in reload and "Played 18 holes" not in reload
    assert 'value="scl" checked' in reload
    older = client.get(
        url, {"fragment": "timeline", "cursor": "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwx"}, HTTP_HX_REQUEST="true"
    )
    assert "HX-Push-Url" not in older  # paging older activity does not move the address
