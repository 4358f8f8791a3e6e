"""The demo club and its owner login, made once and refreshed by `manage.py setup_demo`."""

import secrets

from django.db import transaction

from crm.models import Club, ClubMembership, Role, User

DEMO_CLUB_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo.fairway.test"


@transaction.atomic
def demo_club_get_or_create() -> Club:
    club, _ = Club.objects.get_or_create(
        slug=DEMO_CLUB_SLUG,
        defaults={
            "name": "Fairway Demo Golf Club",
            "country": "ZA",
            "timezone": "Africa/Johannesburg",
            "default_phone_region": "ZA",
            "currency": "ZAR",
        },
    )
    return club


def demo_club_setup(*, password: str | None = None) -> tuple[Club, str, str]:
    """Create (or refresh) the demo club and its owner login; returns (club, email, password).

    The password is new on every run and printed by `make run`, so no fixed credential ships.
    """
    club = demo_club_get_or_create()
    password = password or secrets.token_urlsafe(9)
    user = User.objects.filter(email=DEMO_ADMIN_EMAIL).first()
    if user is None:
        user = User.objects.create_superuser(email=DEMO_ADMIN_EMAIL, password=password)
    else:
        user.set_password(password)
        user.save(update_fields=["password"])
    ClubMembership.objects.get_or_create(club=club, user=user, defaults={"role": Role.OWNER})
    return club, DEMO_ADMIN_EMAIL, password
