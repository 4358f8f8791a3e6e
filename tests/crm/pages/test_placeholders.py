"""Pillars not built yet have a page that says so plainly."""

from django.urls import reverse

from crm.models import Role


def test_placeholder_pages_say_plainly_they_are_not_built(client_for, club_a):
    client = client_for(club_a, Role.MARKETER)
    for name in ("campaigns", "social", "intelligence"):
        response = client.get(reverse(f"crm:{name}"))
        assert response.status_code == 200
        assert b"Not available yet" in response.content
