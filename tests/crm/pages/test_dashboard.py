"""The dashboard: status buckets that link to the list, and no lifecycle chart until scoring exists."""

from django.urls import reverse

from crm.models import Role
from tests.factories import ProfileFactory


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


def test_dashboard_does_not_chart_unscored_lifecycle_stages(client_for, club_a):
    ProfileFactory.create_batch(3, club=club_a)
    body = client_for(club_a, Role.VIEWER).get(reverse("dashboard")).content.decode()
    assert "Profiles by lifecycle stage" not in body
    assert "arrive with engagement scoring" in body
