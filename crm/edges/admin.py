"""The club-scoped admin base every app's back office builds on: querysets and related-object
choices scoped to request.club, permissions from the member's role, and the defaults a table that
grows with activity needs (a capped count, its JSON columns left out of the list)."""

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from crm.kernel.tenancy import ClubScopedQuerySet
from crm.models import Capability
from crm.models.clubs import role_allows


def request_allows(request, capability: Capability) -> bool:
    """Whether the request's member may do this in the request's club (False without a club)."""
    return getattr(request, "club", None) is not None and role_allows(request.club_role, capability)


class ClubScopedAdminMixin:
    """Scopes querysets and related-object choices to request.club; permissions come from the role."""

    view_capability = Capability.VIEW
    edit_capability = Capability.EDIT_PROFILES
    is_read_only = False

    def has_module_permission(self, request):
        return request_allows(request, self.view_capability)

    def has_view_permission(self, request, obj=None):
        return request_allows(request, self.view_capability) and self._in_club(request, obj)

    def has_change_permission(self, request, obj=None):
        return (
            not self.is_read_only and request_allows(request, self.edit_capability) and self._in_club(request, obj)
        )

    def has_add_permission(self, request, *args):
        return not self.is_read_only and request_allows(request, self.edit_capability)

    def has_delete_permission(self, request, obj=None):
        return (
            not self.is_read_only and request_allows(request, self.edit_capability) and self._in_club(request, obj)
        )

    @staticmethod
    def _in_club(request, obj) -> bool:
        return obj is None or getattr(obj, "club_id", None) == request.club.pk

    def get_queryset(self, request):
        return super().get_queryset(request).for_club(request.club)

    def _scope_related(self, db_field, request, kwargs):
        manager = db_field.remote_field.model._default_manager
        if isinstance(manager.get_queryset(), ClubScopedQuerySet):
            kwargs["queryset"] = manager.for_club(request.club)
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(db_field, request, **self._scope_related(db_field, request, kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(db_field, request, **self._scope_related(db_field, request, kwargs))


class ClubScopedAdmin(ClubScopedAdminMixin, admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        obj.club = request.club  # never trusted from the form
        super().save_model(request, obj, form, change)


class CappedPaginator(Paginator):
    """A paginator whose count reads at most `cap` + 1 rows, so a changelist over 20M activities
    never runs an unbounded COUNT(*): the count is taken over a LIMITed subquery. A count of
    cap + 1 means "more than cap"; filters and search narrow a list to where it pages exactly."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if not rows.query.is_sliced:
            # Unordered: an ORDER BY inside the LIMITed subquery reads and sorts every row to count
            # cap + 1. A slice taken already has to keep the order that chose its rows.
            rows = rows.order_by()
        return rows[: self.cap + 1].count()

    def exceeds_cap(self) -> bool:
        return self.count > self.cap


class BigTableChangeList(ChangeList):
    """Leaves the admin's `list_deferred_fields` (JSON payloads) out of the list's SELECT; the
    change/detail view reads the whole row. A count past the cap is shown as "more than 10,000"
    (templates/admin/pagination.html, actions.html, search_form.html), never as 10,001."""

    result_count_is_capped = False

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.defer(*self.model_admin.list_deferred_fields)

    def get_results(self, request):
        super().get_results(request)
        self.result_count_is_capped = self.paginator.exceeds_cap()
        self.result_count_shown = f"more than {self.paginator.cap:,}"


class BigTableAdminMixin:
    """The defaults for a table that grows with activity: a capped count, no full result count,
    and its JSON columns deferred in the list. Mix in before the admin base class."""

    paginator = CappedPaginator
    show_full_result_count = False
    list_deferred_fields: tuple[str, ...] = ()

    def get_changelist(self, request, **kwargs):
        return BigTableChangeList

    def response_action(self, request, queryset):
        """Refuses an action across every filtered row when they are more than the cap: the page
        never said how many they are, so "all" could be a million profiles."""
        select_across = self.action_form.base_fields["select_across"].clean(request.POST.get("select_across"))
        paginator = self.get_paginator(request, queryset, self.list_per_page)
        if select_across and paginator.exceeds_cap():
            self.message_user(
                request,
                f"More than {paginator.cap:,} rows are selected, too many to act on at once: filter "
                "the list, or select rows on the page.",
                messages.WARNING,
            )
            return None
        return super().response_action(request, queryset)
