"""Staff who work at two clubs switch between them, and see only the club they are in, with its role."""

from django.urls import reverse

from crm.models import Role
from tests.conftest import staff_in
from tests.factories import MembershipFactory


def test_staff_in_two_clubs_switches_between_them(client, club_a, club_b, profile_a):
    user = staff_in(club_a, Role.STAFF)
    MembershipFactory(club=club_b, user=user, role=Role.VIEWER)
    client.force_login(user)
    assert client.get(reverse("crm:profile_detail", args=[profile_a.pk])).status_code == 200
    client.post(reverse("crm:club_switch"), {"club": club_b.pk})
    assert client.get(reverse("crm:dashboard")).context["current_role"] == Role.VIEWER
    assert client.get(reverse("crm:profile_detail", args=[profile_a.pk])).status_code == 404
