"""Fail-closed club scoping: one mechanism for models, admin, pages, API and GraphQL.

A club-scoped queryset refuses to run until it is narrowed to a club, either explicitly
(`.for_club(club)`, `.filter(club=...)`), or implicitly by being reached through an object that
was itself loaded inside a club (`profile.activities.all()`). The single escape hatch for
platform-wide jobs is `.unscoped_across_clubs()`, named to be found by grep and by review.

This is the model half; which club a request acts for is `crm/current_club.py`.
"""

from django.db import connections, models
from django.http import Http404

from crm.kernel.bulk import bulk_create_by_json, bulk_update_by_json

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
        # One statement per 5,000 rows: the JSON document stays a few MB at most.
        for start in range(0, len(objs), 5000):
            bulk_create_by_json(self, objs[start : start + 5000], ignore_conflicts=ignore_conflicts)
        return objs

    def bulk_update(self, objs, fields, batch_size=None):
        self._require_club()
        objs = list(objs)
        if not objs or connections[self.db].vendor != "postgresql":
            return super().bulk_update(objs, fields, batch_size=batch_size)
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
