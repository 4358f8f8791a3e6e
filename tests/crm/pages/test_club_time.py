"""Pages show times in the club's time zone, and in UTC when the club's zone is unusable."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Club, Role
from tests.factories import ActivityFactory, ProfileFactory

AT = datetime.datetime(2026, 1, 15, 10, 0, tzinfo=datetime.UTC)


def test_pages_show_times_in_the_clubs_time_zone(client_for, club_a, profile_a):
    ActivityFactory(profile=profile_a, occurred_at=AT, summary="Played 18 holes")
    body = client_for(club_a, Role.VIEWER).get(reverse("crm:profile_detail", args=[profile_a.pk])).content.decode()
    assert "15 Jan 2026 12:00" in body  # Johannesburg is UTC+2
    assert timezone.get_current_timezone_name() == "UTC"  # deactivated after the request


def test_another_club_sees_its_own_zone(client_for, club_b):
    profile = ProfileFactory(club=club_b)
    ActivityFactory(profile=profile, occurred_at=AT.replace(month=7))
    body = client_for(club_b, Role.VIEWER).get(reverse("crm:profile_detail", args=[profile.pk])).content.decode()
    assert "15 Jul 2026 11:00" in body  # London in summer is UTC+1


@pytest.mark.parametrize("bad_zone", ["", "Not/AZone", "America", "../../etc/passwd"])
def test_an_unusable_club_time_zone_falls_back_to_utc(client_for, club_a, profile_a, bad_zone):
    Club.objects.filter(pk=club_a.pk).update(timezone=bad_zone)
    ActivityFactory(profile=profile_a, occurred_at=AT)
    response = client_for(club_a, Role.VIEWER).get(reverse("crm:profile_detail", args=[profile_a.pk]))
    assert response.status_code == 200
    assert "15 Jan 2026 10:00" in response.content.decode()
