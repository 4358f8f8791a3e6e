"""Fail-closed club scoping: one mechanism for models, admin, pages (and later API/GraphQL).

A club-scoped queryset refuses to run until it is narrowed to a club, either explicitly
(`.for_club(club)`, `.filter(club=...)`), or implicitly by being reached through an object that
was itself loaded inside a club (`profile.activities.all()`). The single escape hatch for
platform-wide jobs is `.unscoped_across_clubs()`, named to be found by grep and by review.
"""

import zoneinfo

from django.db import connections, models
from django.http import Http404
from django.utils import timezone

from crm.errors import CrmError, CrmErrorCode

CLUB_LOOKUPS = frozenset({"club", "club_id", "club__pk", "club__in", "club_id__in", "club__id"})


class ClubScopeError(RuntimeError):
    """A club-scoped table was queried without saying which club."""


class ClubScopedQuerySet(models.QuerySet):
    _club_scoped = False

    def for_club(self, club):
        if club is None:
            raise ClubScopeError(f"{self.model.__name__}: for_club() needs a club, got None.")
        return self.filter(club=club)

    def unscoped_across_clubs(self):
        """Platform-wide access (beat jobs, operators). Every call site must say why."""
        clone = self._chain()
        clone._club_scoped = True
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._club_scoped = self._club_scoped
        return clone

    def _filter_or_exclude(self, negate, args, kwargs):
        clone = super()._filter_or_exclude(negate, args, kwargs)
        if not negate and CLUB_LOOKUPS.intersection(kwargs):
            if any(kwargs[key] is None for key in CLUB_LOOKUPS.intersection(kwargs)):
                raise ClubScopeError(f"{self.model.__name__}: filtered on club=None.")
            clone._club_scoped = True
        return clone

    def _add_hints(self, **hints):
        # Related managers and prefetches pass the parent instance as a hint: rows reached
        # through an object that was loaded inside a club belong to that club.
        super()._add_hints(**hints)
        if "instance" in hints:
            self._club_scoped = True

    def _require_club(self):
        if not self._club_scoped:
            raise ClubScopeError(
                f"{self.model.__name__} queried without a club. Use .for_club(club); "
                "platform-wide jobs use .unscoped_across_clubs()."
            )

    def _fetch_all(self):
        if self._result_cache is None:
            self._require_club()
        super()._fetch_all()

    def count(self):
        self._require_club()
        return super().count()

    def exists(self):
        self._require_club()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._require_club()
        return super().aggregate(*args, **kwargs)

    def iterator(self, *args, **kwargs):
        self._require_club()
        return super().iterator(*args, **kwargs)

    def update(self, **kwargs):
        self._require_club()
        return super().update(**kwargs)

    def delete(self):
        self._require_club()
        return super().delete()

    def bulk_create(self, objs, batch_size=None, ignore_conflicts=False, **options):
        objs = list(objs)
        simple = not options and all(obj.pk is None for obj in objs) and not self.model._meta.parents
        if not objs or not simple or connections[self.db].vendor != "postgresql":
            return super().bulk_create(objs, batch_size=batch_size, ignore_conflicts=ignore_conflicts, **options)
        from crm.bulk import bulk_create_by_json

        # One statement per 5,000 rows: the JSON document stays a few MB at most.
        for start in range(0, len(objs), 5000):
            bulk_create_by_json(self, objs[start : start + 5000], ignore_conflicts=ignore_conflicts)
        return objs

    def bulk_update(self, objs, fields, batch_size=None):
        self._require_club()
        objs = list(objs)
        if not objs or connections[self.db].vendor != "postgresql":
            return super().bulk_update(objs, fields, batch_size=batch_size)
        from crm.bulk import bulk_update_by_json

        return bulk_update_by_json(self, objs, fields)

    def in_bulk(self, *args, **kwargs):
        self._require_club()
        return super().in_bulk(*args, **kwargs)


class ClubScopedManager(models.Manager.from_queryset(ClubScopedQuerySet)):
    pass


class ClubScopedModel(models.Model):
    """Base of every customer-facing table: each row belongs to exactly one club."""

    club = models.ForeignKey("crm.Club", on_delete=models.CASCADE, related_name="+")

    objects = ClubScopedManager()

    class Meta:
        abstract = True


def get_object_in_club_or_404(queryset_or_model, club, **lookup):
    """Another club's object answers 404, never 403 and never the object (SPEC 2)."""
    manager = getattr(queryset_or_model, "_default_manager", queryset_or_model)
    try:
        return manager.for_club(club).get(**lookup)
    except (manager.model.DoesNotExist, ValueError, TypeError) as error:
        raise Http404(f"No {manager.model._meta.verbose_name} here.") from error


# --- The request's club -------------------------------------------------------------------

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
    from crm.models import Club, ClubMembership, Role

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
    from crm.selectors import clubs_for_user

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_club": getattr(request, "club", None),
        "current_role": getattr(request, "club_role", None),
        "switchable_clubs": clubs_for_user(user=user),
    }


def require_in_club(club, *objects) -> None:
    """Refuse (CrmError not_found) when any of `objects` belongs to another club than `club`.

    The one club check services make on objects handed to them: to someone working in one club,
    another club's row does not exist, so it answers as missing (SPEC: another club's object
    answers 404), never as "not permitted", which would confirm that it exists.
    """
    for item in objects:
        if item.club_id != club.pk:
            raise CrmError(CrmErrorCode.NOT_FOUND, f"No such {item._meta.verbose_name} in this club.")
