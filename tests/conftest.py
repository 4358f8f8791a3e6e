import pytest
from allauth.mfa.models import Authenticator

from crm.models import Role
from tests.factories import ClubFactory, MembershipFactory, ProfileFactory, UserFactory


def staff_in(club, role: str, email: str | None = None):
    """A logged-in-able staff user holding `role` at `club` (owners get TOTP, which they must have)."""
    user = UserFactory(**({"email": email} if email else {}))
    MembershipFactory(club=club, user=user, role=role)
    if role == Role.OWNER:
        Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "test"})
    return user


@pytest.fixture
def club_a(db):
    return ClubFactory(slug="alpha", name="Alpha Golf Club")


@pytest.fixture
def club_b(db):
    return ClubFactory(
        slug="bravo", name="Bravo Country Club", country="GB", default_phone_region="GB", timezone="Europe/London"
    )


@pytest.fixture
def profile_a(club_a):
    return ProfileFactory(club=club_a, first_name="Alice", last_name="Anders", primary_email="alice@alpha.test")


@pytest.fixture
def client_for(client):
    """client_for(club, role) → a test client logged in as staff with that role at that club."""

    def make(club, role=Role.ADMIN):
        user = staff_in(club, role)
        client.force_login(user)
        client.user = user
        return client

    return make
