"""The dashboard: counts by status in one query, buckets that link to the list, and no lifecycle
chart until scoring exists."""

from django.urls import reverse

from crm import selectors
from crm.models import Role
from tests.factories import ProfileFactory


def test_dashboard_shows_counts_by_status(client_for, club_a):
    ProfileFactory.create_batch(3, club=club_a, membership_status="active", lifecycle_stage="active")
    ProfileFactory(club=club_a, membership_status="lapsed", lifecycle_stage="lapsed")
    ProfileFactory(club=club_a, membership_status="active", merged_into=ProfileFactory(club=club_a))
    client = client_for(club_a, Role.VIEWER)
    response = client.get(reverse("crm:dashboard"))
    counts = response.context["counts"]
    assert counts.total == 5  # the merged-away profile is not a person of its own
    assert dict((value, count) for value, _, count in counts.by_status)["active"] == 4
    assert dict((value, count) for value, _, count in counts.by_status)["lapsed"] == 1
    assert b'hx-get="/dashboard/counts/"' in response.content


def test_dashboard_counts_are_one_query(club_a, django_assert_num_queries):
    ProfileFactory.create_batch(5, club=club_a)
    with django_assert_num_queries(1):
        selectors.dashboard_counts(club=club_a)


def test_dashboard_unknown_bucket_links_to_profiles_without_a_status(client_for, club_a):
    ProfileFactory(club=club_a, first_name="Nostatus", membership_status="")
    ProfileFactory(club=club_a, first_name="Hasstatus", membership_status="active")
    client = client_for(club_a, Role.VIEWER)
    dashboard = client.get(reverse("crm:dashboard_counts")).content.decode()
    assert 'href="/profiles/?status=none"' in dashboard
    assert 'href="/profiles/?status="' not in dashboard
    listing = client.get(reverse("crm:profile_list"), {"status": "none"})
    names = {p.first_name for p in listing.context["profiles"]}
    assert names == {"Nostatus"}


def test_dashboard_does_not_chart_unscored_lifecycle_stages(client_for, club_a):
    ProfileFactory.create_batch(3, club=club_a)
    body = client_for(club_a, Role.VIEWER).get(reverse("crm:dashboard")).content.decode()
    assert "Profiles by lifecycle stage" not in body
    assert "arrive with engagement scoring" in body
