"""The profile page: labels instead of codes, the lifecycle until scoring exists, long emails."""


from django.urls import reverse

from crm.models import CustomerProfile, Role
from tests.factories import ActivityFactory, IdentifierFactory, ProfileFactory


def test_timeline_and_identifiers_show_labels_not_codes(client_for, club_a, profile_a):
    ActivityFactory(profile=profile_a, source="teetime")
    for kind, value in (("teetime_player_id", "TT-1"), ("loyalty_card", "LC-9")):
        IdentifierFactory(profile=profile_a, kind=kind, value=value, source="crm")
    body = client_for(club_a, Role.VIEWER).get(reverse("crm:profile_detail", args=[profile_a.pk])).content.decode()
    assert '<span class="chip">TeeTime (golf)</span>' in body
    assert "TeeTime player id" in body and "teetime_player_id" not in body
    assert "Loyalty card" in body  # a custom kind, named from its code


def test_profile_pages_do_not_state_an_unscored_lifecycle(client_for, club_a, profile_a):
    client = client_for(club_a, Role.VIEWER)
    detail = client.get(reverse("crm:profile_detail", args=[profile_a.pk])).content.decode()
    assert "Not scored yet" in detail and "<dd>New" not in detail
    listing = client.get(reverse("crm:profile_list")).content.decode()
    assert "<td>New</td>" not in listing
    CustomerProfile.objects.for_club(club_a).filter(pk=profile_a.pk).update(
        lifecycle_stage="at_risk", engagement_score=31
    )
    detail = client.get(reverse("crm:profile_detail", args=[profile_a.pk])).content.decode()
    assert "At risk · engagement 31" in detail


def test_long_emails_wrap_before_the_at_or_truncate_with_a_tooltip(client_for, club_a):
    email = "alexandra.vandermerwe-smithson@example.net"
    profile = ProfileFactory(club=club_a, primary_email=email)
    IdentifierFactory(profile=profile, kind="email", value=email, source="crm")
    body = client_for(club_a, Role.VIEWER).get(reverse("crm:profile_detail", args=[profile.pk])).content.decode()
    assert f'title="{email}"><span>alexandra.vandermerwe-smithson</span><span>@example.net</span></span>' in body
    assert f'<span class="truncate" title="{email}">{email}</span>' in body
