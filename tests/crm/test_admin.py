"""The crm admin: the profile page shows the timeline; activities are read-only."""

from django.urls import reverse

from crm.models import Activity, Role
from tests.factories import ActivityFactory


def test_admin_profile_page_shows_the_timeline(client_for, club_a, profile_a):
    ActivityFactory(profile=profile_a, summary="Won the monthly medal")
    client = client_for(club_a, Role.STAFF)
    page = client.get(reverse("admin:crm_customerprofile_change", args=[profile_a.pk]))
    assert b"Won the monthly medal" in page.content


def test_activity_admin_list_is_read_only(client_for, club_a, profile_a):
    activity = ActivityFactory(profile=profile_a)
    client = client_for(club_a, Role.OWNER)
    response = client.post(reverse("admin:crm_activity_change", args=[activity.pk]), {"summary": "rewritten"})
    assert response.status_code == 403
    assert Activity.objects.for_club(club_a).get().summary == activity.summary
