"""Which club a request acts for: the middleware, the template context, and switching clubs.

The request layer's half of tenancy (the model half, fail-closed querysets, is
`crm/kernel/tenancy.py`). Pages and the admin read `request.club` and `request.club_role`;
the API and GraphQL take the club from the API key instead.
"""

import zoneinfo

from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode
from crm.kernel.actor import Actor
from crm.models import AuditAction, Club, ClubMembership, Role
from crm.selectors import clubs_for_user
from crm.services.audit import audit_record

SESSION_CLUB_KEY = "fairway_club_id"


class CurrentClubMiddleware:
    """Sets request.club and request.club_role from the session, checked against memberships,
    and activates the club's time zone so pages show times the way timeline summaries do.

    A staff user only ever gets a club they hold a role in; superusers (platform operators)
    may pick any club and act with the owner role.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.club, request.club_role = resolve_current_club(request)
        timezone.activate(self.club_zone(request.club))
        try:
            return self.get_response(request)
        finally:
            # Threads serve many requests: the next one must not inherit this club's zone.
            timezone.deactivate()

    @staticmethod
    def club_zone(club) -> zoneinfo.ZoneInfo:
        """The club's IANA zone; UTC when there is no club or its zone is empty or unknown
        (a bad value in the database must not take every page down)."""
        try:
            return zoneinfo.ZoneInfo(getattr(club, "timezone", "") or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a folder
            return zoneinfo.ZoneInfo("UTC")


def resolve_current_club(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None, None
    wanted = request.session.get(SESSION_CLUB_KEY)
    if user.is_superuser:
        club = Club.objects.filter(pk=wanted).first() if wanted else None
        club = club or Club.objects.order_by("name").first()
        return club, (Role.OWNER if club else None)
    memberships = ClubMembership.objects.filter(user=user).select_related("club").order_by("club__name")
    membership = next((m for m in memberships if m.club_id == wanted), None) if wanted else None
    membership = membership or next(iter(memberships), None)
    if membership is None:
        return None, None
    return membership.club, membership.role


def club_context(request):
    """Template context: the current club, the role, and the clubs the user can switch to."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_club": getattr(request, "club", None),
        "current_role": getattr(request, "club_role", None),
        "switchable_clubs": clubs_for_user(user=user),
    }


def club_switch(*, request, club_id) -> Club:
    """Make `club_id` the request's current club, if the user holds a role there."""
    user = request.user
    clubs = Club.objects.all() if user.is_superuser else Club.objects.filter(memberships__user=user)
    club = clubs.filter(pk=club_id).first() if str(club_id).isdigit() else None
    if club is None:
        raise CrmError(CrmErrorCode.NOT_PERMITTED, "You have no role at that club.")
    request.session[SESSION_CLUB_KEY] = club.pk
    audit_record(
        club=club,
        actor=Actor.from_request(request),
        action=AuditAction.CLUB_SWITCH,
        target=club,
        summary=f"Switched to {club}",
    )
    return club
