"""Who works the back office: club memberships and roles, clubs, platform users, and the
scheduler's heartbeat."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpResponseRedirect

from crm.edges.admin import request_allows
from crm.edges.pages import domain_errors_shown
from crm.kernel.actor import Actor
from crm.models import (
    Capability,
    Club,
    ClubMembership,
    SchedulerHeartbeat,
    User,
)
from crm.services.staff import club_update, staff_change_role, staff_invite, staff_remove


class StaffInviteForm(forms.ModelForm):
    email = forms.EmailField(help_text="They get an email to set their password.")

    class Meta:
        model = ClubMembership
        fields = ("role",)


@admin.register(ClubMembership)
class ClubMembershipAdmin(admin.ModelAdmin):
    """Club staff and their roles. Owners and admins manage them; only owners create owners."""

    list_display = ("user", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    actions = ("remove_selected",)

    def _manages(self, request, obj=None):
        return request_allows(request, Capability.MANAGE_STAFF) and (obj is None or obj.club_id == request.club.pk)

    def has_module_permission(self, request):
        return self._manages(request)

    def has_view_permission(self, request, obj=None):
        return self._manages(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._manages(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._manages(request, obj)

    def has_add_permission(self, request):
        return self._manages(request)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(club=request.club)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = StaffInviteForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("email", "role") if obj is None else ("user", "role")

    def get_readonly_fields(self, request, obj=None):
        return ("user",) if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            staff_change_role(membership=obj, role=form.cleaned_data["role"], actor=Actor.from_request(request))
            return
        membership, created = staff_invite(
            club=request.club,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            actor=Actor.from_request(request),
        )
        # The admin logs and redirects using `obj`; make it the row the service created.
        obj.pk, obj.user, obj.club, obj.role = membership.pk, membership.user, membership.club, membership.role
        obj._state.adding = False
        if created:
            _send_password_setup(request, membership.user)

    def delete_model(self, request, obj):
        staff_remove(membership=obj, actor=Actor.from_request(request))

    def get_actions(self, request):
        # Django's bulk delete logs and reports "Successfully deleted" even for the removals
        # staff_remove refuses (the last owner); remove_selected reports what happened.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Remove selected staff from the club", permissions=("delete",))
    def remove_selected(self, request, queryset):
        removed = refused = 0
        for membership in queryset.select_related("user"):
            with domain_errors_shown(request, prefix=f"{membership.user.email}: ") as refusal:
                self.delete_model(request, membership)
            refused += bool(refusal)
            removed += not refusal
        level = messages.SUCCESS if not refused else messages.WARNING
        self.message_user(request, f"Removed {removed} staff member(s); {refused} refused.", level)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with domain_errors_shown(request):
            return super().changeform_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        with domain_errors_shown(request):
            return super().delete_view(request, object_id, extra_context)
        return HttpResponseRedirect("../../")


def _send_password_setup(request, user):
    from allauth.account.forms import ResetPasswordForm

    form = ResetPasswordForm(data={"email": user.email})
    if form.is_valid():
        form.save(request)


@admin.register(Club)
class ClubAdmin(admin.ModelAdmin):
    """Platform operators manage all clubs; an owner or admin edits their current club's settings."""

    list_display = ("name", "slug", "country", "timezone", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk=request.club.pk) if request.club else queryset.none()

    def has_module_permission(self, request):
        return request.user.is_superuser or request_allows(request, Capability.MANAGE_CLUB)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or (
            request_allows(request, Capability.MANAGE_CLUB) and (obj is None or obj.pk == request.club.pk)
        )

    has_change_permission = has_view_permission

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return () if request.user.is_superuser else ("slug",)

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if request.user.is_superuser else {}

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)  # a platform operator opening a club
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        club_update(club=obj, actor=Actor.from_request(request), changes=changes)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Platform operators only: club staff are managed per club under 'Club memberships'."""

    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "is_superuser", "is_active", "last_login")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Platform", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    filter_horizontal = ()
    list_filter = ("is_superuser", "is_active")


@admin.register(SchedulerHeartbeat)
class SchedulerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "last_run_at", "run_count")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Integrations: inbound events, signing secrets, tournaments ---------------------------
