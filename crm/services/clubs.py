import secrets

from django.db import transaction

from crm.errors import CrmError, CrmErrorCode
from crm.kernel.actor import Actor
from crm.models import AuditAction, Club, ClubMembership, Role, User
from crm.services.audit import audit_record
from crm.tenancy import SESSION_CLUB_KEY

DEMO_CLUB_SLUG = "demo"
DEMO_ADMIN_EMAIL = "admin@demo.fairway.test"


def club_switch(*, request, club_id) -> Club:
    """Make `club_id` the request's current club, if the user holds a role there."""
    user = request.user
    clubs = Club.objects.all() if user.is_superuser else Club.objects.filter(memberships__user=user)
    club = clubs.filter(pk=club_id).first() if str(club_id).isdigit() else None
    if club is None:
        raise CrmError(CrmErrorCode.NOT_PERMITTED, "You have no role at that club.")
    request.session[SESSION_CLUB_KEY] = club.pk
    actor = Actor.from_request(request)
    audit_record(club=club, actor=actor, action=AuditAction.CLUB_SWITCH, target=club, summary=f"Switched to {club}")
    return club


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
