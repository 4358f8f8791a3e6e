"""The profile page: the timeline's amounts and labels, the lifecycle until scoring exists, long
emails, and timeline filters that live in the address."""

from decimal import Decimal

from django.urls import reverse

from crm.models import CustomerProfile, Role
from tests.factories import ActivityFactory, IdentifierFactory, ProfileFactory


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
    for kind, value in (("teetime_player_id", "TT-1"), ("loyalty_card", "LC-9")):
        IdentifierFactory(profile=profile_a, kind=kind, value=value, source="crm")
    body = client_for(club_a, Role.VIEWER).get(reverse("profile_detail", args=[profile_a.pk])).content.decode()
    assert '<span class="chip">TeeTime (golf)</span>' in body
    assert "TeeTime player id" in body and "teetime_player_id" not in body
    assert "Loyalty card" in body  # a custom kind, named from its code


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


def test_long_emails_wrap_before_the_at_or_truncate_with_a_tooltip(client_for, club_a):
    email = "alexandra.vandermerwe-smithson@example.net"
    profile = ProfileFactory(club=club_a, primary_email=email)
    IdentifierFactory(profile=profile, kind="email", value=email, source="crm")
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
