"""The staff back office. Every admin here is scoped to the request's club and checks the role."""

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from crm import selectors
from crm.events.replay import REPLAYABLE, events_replay, signing_secret_create
from crm.kernel.actor import Actor
from crm.kernel.pagination import InvalidCursor
from crm.kernel.tenancy import ClubScopedQuerySet
from crm.models import (
    INBOUND_EVENT_FIELDS,
    Activity,
    ActivitySource,
    ApiKey,
    ApiScope,
    AuditLog,
    Capability,
    Club,
    ClubMembership,
    CustomerProfile,
    EventSigningSecret,
    InboundEvent,
    MergeReason,
    MergeRecord,
    MergeSuggestion,
    Note,
    ProfileIdentifier,
    ProfileTag,
    SchedulerHeartbeat,
    SuggestionStatus,
    Tag,
    Tournament,
    User,
)
from crm.models.clubs import role_allows
from crm.page_errors import domain_errors_shown
from crm.services.api_keys import api_key_create, api_key_revoke
from crm.services.exports import profiles_export_csv
from crm.services.merges import live_profile_id, merge_undo, profiles_merge
from crm.services.notes import note_add, note_delete, note_edit
from crm.services.profiles import (
    SOURCE_OWNED_FIELDS,
    STAFF_EDITABLE_FIELDS,
    profile_clean_contact,
    profile_save_by_staff,
)
from crm.services.staff import staff_change_role, staff_invite, staff_remove
from crm.services.suggestions import suggestion_accept, suggestion_reject
from crm.services.tags import profiles_tag, profiles_untag, tag_get_or_create


def _allows(request, capability: Capability) -> bool:
    return getattr(request, "club", None) is not None and role_allows(request.club_role, capability)


class ClubScopedAdminMixin:
    """Scopes querysets and related-object choices to request.club; permissions come from the role."""

    view_capability = Capability.VIEW
    edit_capability = Capability.EDIT_PROFILES
    is_read_only = False

    def has_module_permission(self, request):
        return _allows(request, self.view_capability)

    def has_view_permission(self, request, obj=None):
        return _allows(request, self.view_capability) and self._in_club(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self.is_read_only and _allows(request, self.edit_capability) and self._in_club(request, obj)

    def has_add_permission(self, request, *args):
        return not self.is_read_only and _allows(request, self.edit_capability)

    def has_delete_permission(self, request, obj=None):
        return not self.is_read_only and _allows(request, self.edit_capability) and self._in_club(request, obj)

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


# --- Filters ------------------------------------------------------------------------------


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(str(tag.pk), tag.name) for tag in Tag.objects.for_club(request.club).order_by("name")]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(profile_tags__tag_id=int(self.value()))
        return queryset


class TierFilter(admin.SimpleListFilter):
    title = "membership tier"
    parameter_name = "tier"

    def lookups(self, request, model_admin):
        return [(tier, tier) for tier in selectors.club_tiers(club=request.club)]

    def queryset(self, request, queryset):
        return queryset.filter(membership_tier=self.value()) if self.value() else queryset


class MergedFilter(admin.SimpleListFilter):
    title = "record state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("all", "All, including merged and erased"), ("merged", "Merged away"), ("erased", "Erased")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Current profiles",
        }
        yield from list(super().choices(changelist))[1:]

    def queryset(self, request, queryset):
        if self.value() == "merged":
            return queryset.filter(merged_into__isnull=False)
        if self.value() == "erased":
            return queryset.filter(is_erased=True)
        if self.value() == "all":
            return queryset
        return queryset.filter(merged_into__isnull=True, is_erased=False)


# --- Profiles -----------------------------------------------------------------------------


class ProfileAdminForm(forms.ModelForm):
    class Meta:
        model = CustomerProfile
        fields = STAFF_EDITABLE_FIELDS

    def clean(self):
        cleaned = super().clean()
        with domain_errors_shown(form=self, field=_contact_field):
            cleaned.update(
                profile_clean_contact(
                    club=self.club,
                    primary_email=cleaned.get("primary_email", ""),
                    primary_phone=cleaned.get("primary_phone", ""),
                )
            )
        return cleaned


def _contact_field(error) -> str:
    return "primary_phone" if error.details.get("kind") == "phone" else "primary_email"


class IdentifierInline(ClubScopedAdminMixin, admin.TabularInline):
    model = ProfileIdentifier
    extra = 0
    is_read_only = True
    fields = ("kind", "value", "source", "first_seen_at", "last_seen_at")
    readonly_fields = fields
    ordering = ("kind", "value")


class ProfileTagInline(ClubScopedAdminMixin, admin.TabularInline):
    model = ProfileTag
    extra = 0
    fields = ("tag", "added_by", "created_at")
    readonly_fields = ("added_by", "created_at")
    verbose_name = "tag"


class NoteInline(ClubScopedAdminMixin, admin.StackedInline):
    model = Note
    extra = 1
    fields = ("body", "is_pinned", "author", "created_at", "edited_at")
    readonly_fields = ("author", "created_at", "edited_at")


class TagActionForm(forms.Form):
    tag_name = forms.CharField(max_length=60, label="Tag")


@admin.register(CustomerProfile)
class CustomerProfileAdmin(ClubScopedAdmin):
    form = ProfileAdminForm
    change_form_template = "admin/crm/customerprofile/change_form.html"
    list_display = (
        "display_name",
        "primary_email",
        "primary_phone",
        "member_number",
        "membership_status",
        "membership_tier",
        "lifecycle_stage",
        "engagement_score",
        "updated_at",
    )
    list_display_links = ("display_name",)
    list_filter = (MergedFilter, "membership_status", TierFilter, "lifecycle_stage", TagFilter)
    search_fields = ("last_name",)  # enables the search box; get_search_results does the real work
    search_help_text = "Name, email, phone (any format) or member number."
    list_per_page = 50
    show_full_result_count = False
    inlines = (IdentifierInline, ProfileTagInline, NoteInline)
    actions = ("tag_selected", "untag_selected", "merge_selected", "export_selected_csv")
    readonly_fields = (
        *SOURCE_OWNED_FIELDS,
        "merged_into",
        "is_erased",
        "erased_at",
        "created_at",
        "updated_at",
        "field_sources_table",
    )
    fieldsets = (
        (
            "Person",
            {
                "fields": (
                    ("first_name", "last_name"),
                    ("primary_email", "primary_phone"),
                    ("date_of_birth", "gender"),
                    ("locale", "timezone"),
                )
            },
        ),
        ("Address", {"fields": ("address_line", ("city", "postcode", "country"))}),
        (
            "Membership (from SCL)",
            {
                "fields": (
                    ("member_number", "membership_status", "membership_tier"),
                    ("membership_joined_on", "membership_renewal_on", "membership_lapsed_on"),
                )
            },
        ),
        (
            "Golf (from TeeTime)",
            {"fields": (("handicap_index", "home_course"), ("rounds_played", "last_round_at"))},
        ),
        (
            "Consent (from Messaging)",
            {
                "fields": (
                    ("email_opt_in", "sms_opt_in", "push_opt_in", "whatsapp_opt_in"),
                    "consent_updated_at",
                )
            },
        ),
        ("Scores", {"fields": (("lifecycle_stage", "engagement_score", "churn_risk"),)}),
        (
            "Other",
            {
                "classes": ("collapse",),
                "fields": (
                    "custom_attributes",
                    "field_sources_table",
                    ("merged_into", "is_erased", "erased_at"),
                    ("created_at", "updated_at"),
                ),
            },
        ),
    )

    def has_delete_permission(self, request, obj=None):
        return False  # profiles are merged or erased through their own processes, never deleted

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.club = request.club
        return form

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return selectors.profile_search(queryset, search=search_term, club=request.club), False

    @admin.display(description="Field sources")
    def field_sources_table(self, obj):
        rows = sorted((obj.field_sources or {}).items())
        if not rows:
            return "—"
        return format_html(
            "<table>{}</table>",
            format_html(
                "".join("<tr><td>{}</td><td>{}</td><td>{}</td></tr>" for _ in rows),
                *[part for name, info in rows for part in (name, info.get("source"), info.get("at"))],
            ),
        )

    def save_model(self, request, obj, form, change):
        changed = [name for name in form.changed_data if name in STAFF_EDITABLE_FIELDS]
        profile_save_by_staff(club=request.club, actor=Actor.from_request(request), profile=obj, changed_fields=changed)

    def save_formset(self, request, form, formset, change):
        if formset.model is ProfileTag:
            self._save_tag_rows(request, form.instance, formset)
            return
        if formset.model is not Note:
            for instance in formset.save(commit=False):
                instance.club = request.club
                instance.save()
            for instance in formset.deleted_objects:
                instance.delete()
            return
        # Notes go through their services (audit, edited-at); the admin's change message still
        # needs the formset's usual bookkeeping, so it is filled in here.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for note_form in formset.forms:
            if not note_form.has_changed() or note_form in formset.deleted_forms:
                continue
            data = note_form.cleaned_data
            if note_form.instance.pk:
                note = note_edit(
                    club=request.club,
                    note=note_form.instance,
                    actor=Actor.from_request(request),
                    body=data["body"],
                    is_pinned=data["is_pinned"],
                )
                formset.changed_objects.append((note, note_form.changed_data))
            else:
                note = note_add(
                    club=request.club,
                    profile=form.instance,
                    actor=Actor.from_request(request),
                    body=data["body"],
                    is_pinned=data["is_pinned"],
                )
                formset.new_objects.append(note)
        for note_form in formset.deleted_forms:
            if note_form.instance.pk:
                formset.deleted_objects.append(note_form.instance)
                note_delete(club=request.club, note=note_form.instance, actor=Actor.from_request(request))

    def _save_tag_rows(self, request, profile, formset) -> None:
        """The tag rows go through the tag services, like the bulk action (audit, and segments on
        the tag follow at once); save(commit=False) still fills the change message's bookkeeping."""
        actor = Actor.from_request(request)
        instances = formset.save(commit=False)
        for row in formset.deleted_objects:
            profiles_untag(club=request.club, actor=actor, profile_ids=[profile.pk], tag=row.tag)
        for row in instances:
            if row.pk is not None:  # the row's tag was changed: the old one comes off
                previous = ProfileTag.objects.for_club(request.club).select_related("tag").get(pk=row.pk).tag
                profiles_untag(club=request.club, actor=actor, profile_ids=[profile.pk], tag=previous)
            profiles_tag(club=request.club, actor=actor, profile_ids=[profile.pk], tag=row.tag)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        profile = self.get_object(request, object_id)
        if profile is not None:
            try:
                extra_context["timeline"] = selectors.profile_timeline(
                    club=request.club,
                    profile=profile,
                    cursor=request.GET.get("cursor") or None,
                    sources=request.GET.getlist("source") or None,
                    limit=25,
                )
            except InvalidCursor:
                extra_context["timeline"] = selectors.profile_timeline(club=request.club, profile=profile, limit=25)
            extra_context["timeline_sources"] = ActivitySource.choices
        return super().change_view(request, object_id, form_url, extra_context)

    def _tag_action(self, request, queryset, *, remove: bool):
        if not _allows(request, Capability.EDIT_PROFILES):
            self.message_user(request, "Your role cannot change tags.", messages.ERROR)
            return None
        form = TagActionForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            with domain_errors_shown(request):
                tag = tag_get_or_create(club=request.club, name=form.cleaned_data["tag_name"])
                ids = list(queryset.values_list("pk", flat=True))
                service = profiles_untag if remove else profiles_tag
                count = service(club=request.club, profile_ids=ids, tag=tag, actor=Actor.from_request(request))
                verb = "Removed" if remove else "Added"
                self.message_user(request, f"{verb} tag '{tag.name}' on {count} profile(s).", messages.SUCCESS)
            return None
        return render(
            request,
            "admin/crm/customerprofile/tag_action.html",
            {
                **self.admin_site.each_context(request),
                "title": "Remove a tag" if remove else "Add a tag",
                "profiles": queryset[:50],
                "count": queryset.count(),
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "action": request.POST.get("action"),
                "form": form,
                "tags": Tag.objects.for_club(request.club).order_by("name"),
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Add a tag to selected profiles")
    def tag_selected(self, request, queryset):
        return self._tag_action(request, queryset, remove=False)

    @admin.action(description="Remove a tag from selected profiles")
    def untag_selected(self, request, queryset):
        return self._tag_action(request, queryset, remove=True)

    @admin.action(description="Merge selected profiles (2)", permissions=("change",))
    def merge_selected(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:3])
        if len(ids) != 2:
            self.message_user(request, "Select exactly two profiles to merge.", messages.ERROR)
            return None
        with domain_errors_shown(request) as refusal:
            record = profiles_merge(
                club=request.club,
                actor=Actor.from_request(request),
                first_id=ids[0],
                second_id=ids[1],
                reason=MergeReason.STAFF,
            )
        if refusal:
            return None
        if record is None:
            self.message_user(request, "These profiles are already one profile.", messages.WARNING)
            return None
        self.message_user(request, _merge_message(record), messages.SUCCESS)
        return None

    @admin.action(description="Export selected profiles as CSV (audited)")
    def export_selected_csv(self, request, queryset):
        if not _allows(request, Capability.EXPORT):
            self.message_user(request, "Your role cannot export personal data.", messages.ERROR)
            return None
        lines = profiles_export_csv(
            club=request.club, queryset=queryset, actor=Actor.from_request(request)
        )
        response = StreamingHttpResponse(lines, content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="profiles-{request.club.slug}.csv"'
        return response


@admin.register(Activity)
class ActivityAdmin(ClubScopedAdmin):
    is_read_only = True
    list_display = ("occurred_at", "profile", "source", "type", "summary")
    list_filter = ("source",)
    list_select_related = ("profile",)
    search_fields = ("=type",)
    search_help_text = "Exact activity type, e.g. round.completed"
    show_full_result_count = False
    date_hierarchy = None
    fields = ("profile", "occurred_at", "source", "type", "summary", "amount", "properties", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-occurred_at", "-id")


@admin.register(ProfileIdentifier)
class ProfileIdentifierAdmin(ClubScopedAdmin):
    is_read_only = True
    list_display = ("value", "kind", "profile", "source", "last_seen_at")
    list_filter = ("kind", "source")
    list_select_related = ("profile",)
    search_fields = ("=value",)
    search_help_text = "Exact normalised value (lower-case email, E.164 phone, id)."
    show_full_result_count = False
    fields = ("profile", "kind", "value", "source", "first_seen_at", "last_seen_at")
    readonly_fields = fields


@admin.register(Tag)
class TagAdmin(ClubScopedAdmin):
    list_display = ("name", "color", "created_at")
    search_fields = ("name",)
    fields = ("name", "color")


@admin.register(AuditLog)
class AuditLogAdmin(ClubScopedAdmin):
    view_capability = Capability.MANAGE_STAFF
    is_read_only = True
    list_display = ("created_at", "actor", "action", "object_type", "object_id", "summary", "ip_address")
    list_filter = ("action",)
    list_select_related = ("actor",)
    search_fields = ("=object_id", "actor__email")
    show_full_result_count = False
    fields = ("created_at", "actor", "action", "object_type", "object_id", "summary", "details", "ip_address")
    readonly_fields = fields


# --- Staff and clubs ----------------------------------------------------------------------


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

    def _manages(self, request, obj=None):
        return _allows(request, Capability.MANAGE_STAFF) and (obj is None or obj.club_id == request.club.pk)

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
        return request.user.is_superuser or _allows(request, Capability.MANAGE_CLUB)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or (
            _allows(request, Capability.MANAGE_CLUB) and (obj is None or obj.pk == request.club.pk)
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


class ProblemEventFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", "Rejected, failed or dead (dead-letter)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status__in=REPLAYABLE)
        return queryset


@admin.register(InboundEvent)
class InboundEventAdmin(ClubScopedAdmin):
    """Every event received, and the dead-letter view: rejected and failed events with their reasons."""

    view_capability = Capability.MANAGE_CLUB
    edit_capability = Capability.MANAGE_CLUB
    list_display = ("received_at", "source", "type", "event_id", "status", "attempts", "problem")
    list_filter = (ProblemEventFilter, "status", "source", "transport")
    search_fields = ("=event_id", "=type")
    search_help_text = "Exact event id or type."
    show_full_result_count = False
    actions = ("replay_selected",)
    fields = (*INBOUND_EVENT_FIELDS, "data")
    readonly_fields = fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data").order_by("-received_at", "-id")

    @admin.display(description="Problem")
    def problem(self, obj):
        errors = obj.errors or []
        if not errors:
            return f"{len(obj.warnings)} warning(s)" if obj.warnings else ""
        first = errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{first.get('path') or 'event'}: {first.get('message')}{more}"

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not _allows(request, Capability.MANAGE_CLUB):
            actions.pop("replay_selected", None)
        return actions

    @admin.action(description="Replay selected events (after a fix)")
    def replay_selected(self, request, queryset):
        result = events_replay(
            club=request.club, event_ids=list(queryset.values_list("pk", flat=True)), actor=Actor.from_request(request)
        )
        self.message_user(
            request,
            f"Queued {result['queued']} event(s) for processing; {result['still_invalid']} still invalid; "
            f"{result['not_replayable']} already processed or waiting.",
            messages.SUCCESS if result["queued"] else messages.WARNING,
        )


class SigningSecretAddForm(forms.ModelForm):
    class Meta:
        model = EventSigningSecret
        fields = ("source", "label")


class ApiKeyAddForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ("name", "scopes", "expires_at")


@admin.register(ApiKey)
class ApiKeyAdmin(ClubScopedAdmin):
    """Keys integrations call the API with. The full key is shown once, at creation."""

    view_capability = Capability.MANAGE_CLUB
    edit_capability = Capability.MANAGE_CLUB
    list_display = ("name", "prefix", "scope_list", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "=prefix")
    actions = ("revoke_selected",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "scopes", "expires_at")
        return ("name", "prefix", "scopes", "created_by", "created_at", "last_used_at", "expires_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("prefix", "scopes", "created_by", "created_at", "last_used_at", "revoked_at")

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit trail keeps naming the key

    @admin.display(description="Scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, value = api_key_create(
            club=request.club,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
            actor=Actor.from_request(request),
        )
        obj.pk, obj.club, obj.prefix, obj.hashed_key, obj.scopes = (
            key.pk,
            key.club,
            key.prefix,
            key.hashed_key,
            key.scopes,
        )
        obj._state.adding = False
        self.message_user(request, f"Copy this API key now; it will not be shown again: {value}", messages.WARNING)

    @admin.action(description="Revoke selected keys")
    def revoke_selected(self, request, queryset):
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            api_key_revoke(club=request.club, key=key, actor=Actor.from_request(request))
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)


@admin.register(EventSigningSecret)
class EventSigningSecretAdmin(ClubScopedAdmin):
    """HMAC secrets the sources sign pushes with. The value is shown once, at creation."""

    view_capability = Capability.MANAGE_CLUB
    edit_capability = Capability.MANAGE_CLUB
    list_display = ("source", "label", "is_active", "created_at", "last_used_at")
    list_filter = ("source", "is_active")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = SigningSecretAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("source", "label") if obj is None else ("source", "label", "is_active", "created_at", "last_used_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("source", "created_at", "last_used_at")

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead, so the history of which secret signed what stays

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        secret, value = signing_secret_create(
            club=request.club,
            actor=Actor.from_request(request),
            source=form.cleaned_data["source"],
            label=form.cleaned_data["label"],
        )
        obj.pk, obj.club, obj.secret = secret.pk, secret.club, secret.secret
        obj._state.adding = False
        self.message_user(
            request,
            f"Copy this {secret.get_source_display()} signing secret now; it will not be shown again: {value}",
            messages.WARNING,
        )


@admin.register(Tournament)
class TournamentAdmin(ClubScopedAdmin):
    is_read_only = True
    list_display = ("name", "starts_at", "status", "entries_count", "capacity", "format")
    list_filter = ("status",)
    search_fields = ("name", "=external_id")
    fields = (
        "external_id",
        "name",
        "starts_at",
        "ends_at",
        "entry_deadline",
        "capacity",
        "entries_count",
        "format",
        "handicap_min",
        "handicap_max",
        "description",
        "status",
        "last_event_at",
    )
    readonly_fields = fields


# --- Identity: merge suggestions and merge records ----------------------------------------


def _merge_message(record: MergeRecord):
    url = reverse("admin:crm_customerprofile_change", args=[record.survivor_id])
    return format_html(
        'Merged #{} into <a href="{}">#{} {}</a>.',
        record.merged_id,
        url,
        record.survivor_id,
        record.survivor.display_name,
    )


def _evidence_text(item) -> str:
    """One field's evidence as a reviewer reads it: 'similar (first name 0.93, last name 1.00)'."""
    if not isinstance(item, dict):
        return str(item)
    details = []
    first, last = item.get("first"), item.get("last")
    if isinstance(first, int | float) and isinstance(last, int | float):
        details.append(f"first name {first:.2f}, last name {last:.2f}")
    weight = item.get("weight")
    if weight == "veto":
        details.append("rules the match out")
    elif isinstance(weight, int | float) and weight:
        details.append(f"{weight:+.2f}")
    result = str(item.get("result", ""))
    return f"{result} ({', '.join(details)})" if details else result


def _evidence_summary(evidence) -> str:
    if not isinstance(evidence, dict):
        return ""
    return " · ".join(
        f"{key.replace('_', ' ')} {item.get('result', '?') if isinstance(item, dict) else item}"
        for key, item in evidence.items()
    )


# The side-by-side review: (row label, key in _ReviewedProfile.values, key in the evidence).
REVIEW_ROWS = (
    ("Name", "name", "name"),
    ("Emails", "emails", "email"),
    ("Phones", "phones", "phone"),
    ("Date of birth", "date_of_birth", "date_of_birth"),
    ("Postcode", "postcode", "postcode"),
    ("Membership", "membership", None),
    ("Member number", "member_number", None),
    ("Identifiers", "identifiers", None),
    ("Activities", "activities", None),
    ("Created", "created", None),
)


class _ReviewedProfile:
    """What a reviewer compares about one profile (the live one the suggested id now points at)."""

    def __init__(self, club, suggested_id: int):
        self.suggested_id = suggested_id
        self.profile = profile = CustomerProfile.objects.for_club(club).get(pk=live_profile_id(club, suggested_id))
        identifiers = sorted(
            ProfileIdentifier.objects.for_club(club).filter(profile=profile).values_list("kind", "value")
        )
        self.values = {
            "name": [profile.display_name],
            "emails": [profile.primary_email, *(value for kind, value in identifiers if kind == "email")],
            "phones": [profile.primary_phone, *(value for kind, value in identifiers if kind == "phone")],
            "date_of_birth": [profile.date_of_birth and profile.date_of_birth.isoformat()],
            "postcode": [profile.postcode],
            "membership": [profile.get_membership_status_display(), profile.membership_tier],
            "member_number": [profile.member_number],
            "identifiers": [f"{kind}: {value}" for kind, value in identifiers if kind not in ("email", "phone")],
            "activities": [str(Activity.objects.for_club(club).filter(profile=profile).count())],
            "created": [f"{profile.created_at:%Y-%m-%d %H:%M}"],
        }
        # Empty values drop out; the primary email is usually an identifier too, shown once.
        self.values = {
            key: list(dict.fromkeys(value for value in values if value)) for key, values in self.values.items()
        }

    @property
    def moved_on(self) -> bool:
        return self.profile.pk != self.suggested_id


def _side_by_side(first: _ReviewedProfile, second: _ReviewedProfile, evidence) -> list[dict]:
    """Rows of label, each profile's values and the matcher's evidence for that field."""
    evidence = dict(evidence) if isinstance(evidence, dict) else {}
    table = [
        {
            "label": label,
            "first": first.values[key],
            "second": second.values[key],
            "evidence": _evidence_text(evidence.pop(evidence_key)) if evidence_key in evidence else "",
        }
        for label, key, evidence_key in REVIEW_ROWS
    ]
    # Whatever else the matcher recorded (a system id held with different values, say).
    table.extend(
        {"label": key.replace("_", " ").capitalize(), "first": [], "second": [], "evidence": _evidence_text(item)}
        for key, item in evidence.items()
    )
    return table


class SuggestionStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*SuggestionStatus.choices, ("all", "All")]

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            value = None if lookup == SuggestionStatus.PENDING else lookup
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: value} if value else {}, [] if value else [self.parameter_name]
                ),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        if self.value() in SuggestionStatus.values:
            return queryset.filter(status=self.value())
        return queryset.filter(status=SuggestionStatus.PENDING)


class MergeDecisionAdmin(ClubScopedAdmin):
    """Read-only admin whose one write, deciding a merge, needs the right to edit profiles."""

    is_read_only = True
    merge_capability = Capability.EDIT_PROFILES

    def has_merge_permission(self, request, obj=None):
        return _allows(request, self.merge_capability) and self._in_club(request, obj)

    def _object_or_redirect(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return obj, None

    def _post_only(self, request, object_id):
        """The object for a POST by someone who may merge; (None, response) otherwise."""
        if request.method != "POST":
            return None, HttpResponseNotAllowed(["POST"])
        obj, response = self._object_or_redirect(request, object_id)
        if obj is not None and not self.has_merge_permission(request, obj):
            raise PermissionDenied
        return obj, response

    def _url_name(self, view: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def _change_url(self, obj) -> str:
        return reverse(f"admin:{self._url_name('change')}", args=[obj.pk])

    def _changelist_url(self) -> str:
        return reverse(f"admin:{self._url_name('changelist')}")

    def _report_many(self, request, done: int, verb: str, failures: list[str]) -> None:
        if done:
            self.message_user(request, f"{verb} {done} {self.opts.verbose_name}(s).", messages.SUCCESS)
        if failures:
            shown = "; ".join(failures[:5]) + (f" (and {len(failures) - 5} more)" if len(failures) > 5 else "")
            self.message_user(request, f"{len(failures)} not done: {shown}", messages.ERROR)


@admin.register(MergeSuggestion)
class MergeSuggestionAdmin(MergeDecisionAdmin):
    """The review queue: pairs that may be one person, compared side by side, accepted or rejected."""

    list_display = ("first_profile", "second_profile", "score", "evidence_summary", "status", "created_at")
    list_display_links = ("first_profile", "second_profile")
    list_filter = (SuggestionStatusFilter,)
    list_select_related = ("profile_a", "profile_b")
    search_fields = (
        "profile_a__last_name",
        "profile_b__last_name",
        "profile_a__primary_email",
        "profile_b__primary_email",
    )
    search_help_text = "Last name or email of either profile."
    ordering = ("-score", "-created_at")
    show_full_result_count = False
    actions = ("accept_selected", "reject_selected")

    @admin.display(description="First profile", ordering="profile_a__last_name")
    def first_profile(self, obj):
        return f"#{obj.profile_a_id} {obj.profile_a.display_name}"

    @admin.display(description="Second profile", ordering="profile_b__last_name")
    def second_profile(self, obj):
        return f"#{obj.profile_b_id} {obj.profile_b.display_name}"

    @admin.display(description="Evidence")
    def evidence_summary(self, obj):
        return _evidence_summary(obj.evidence)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/accept/", self.admin_site.admin_view(self.accept_view), name=self._url_name("accept")
            ),
            path(
                "<path:object_id>/reject/", self.admin_site.admin_view(self.reject_view), name=self._url_name("reject")
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        suggestion, response = self._object_or_redirect(request, object_id)
        if response:
            return response
        first = _ReviewedProfile(request.club, suggestion.profile_a_id)
        second = _ReviewedProfile(request.club, suggestion.profile_b_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Are these the same person? #{suggestion.profile_a_id} and #{suggestion.profile_b_id}",
            "opts": self.opts,
            "suggestion": suggestion,
            "first": first,
            "second": second,
            "sides": (first, second),
            "already_one": first.profile.pk == second.profile.pk,
            "rows": _side_by_side(first, second, suggestion.evidence),
            "is_pending": suggestion.status == SuggestionStatus.PENDING,
            "may_decide": self.has_merge_permission(request, suggestion),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/crm/mergesuggestion/review.html", context)

    def accept_view(self, request, object_id):
        suggestion, response = self._post_only(request, object_id)
        if response:
            return response
        with domain_errors_shown(request) as refusal:
            actor = Actor.from_request(request)
            record = suggestion_accept(club=request.club, actor=actor, suggestion_id=suggestion.pk)
        if refusal:
            return HttpResponseRedirect(self._change_url(suggestion))
        if record is None:
            self.message_user(request, "These profiles were already one profile; suggestion closed.", messages.INFO)
        else:
            self.message_user(request, _merge_message(record), messages.SUCCESS)
        return HttpResponseRedirect(self._changelist_url())

    def reject_view(self, request, object_id):
        suggestion, response = self._post_only(request, object_id)
        if response:
            return response
        with domain_errors_shown(request) as refusal:
            suggestion_reject(club=request.club, suggestion_id=suggestion.pk, actor=Actor.from_request(request))
        if refusal:
            return HttpResponseRedirect(self._change_url(suggestion))
        self.message_user(
            request,
            f"Rejected: #{suggestion.profile_a_id} and #{suggestion.profile_b_id} will not be suggested again.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._changelist_url())

    def _decide_many(self, request, queryset, service, verb: str) -> None:
        done, failures = 0, []
        for suggestion_id in queryset.order_by("-score", "pk").values_list("pk", flat=True):
            with domain_errors_shown() as refusal:
                service(club=request.club, suggestion_id=suggestion_id, actor=Actor.from_request(request))
            if refusal:
                failures.append(f"#{suggestion_id}: {refusal.error.message}")
            else:
                done += 1
        self._report_many(request, done, verb, failures)

    @admin.action(description="Accept selected (merge each pair)", permissions=("merge",))
    def accept_selected(self, request, queryset):
        self._decide_many(request, queryset, suggestion_accept, "Accepted")

    @admin.action(description="Reject selected (not the same person)", permissions=("merge",))
    def reject_selected(self, request, queryset):
        self._decide_many(request, queryset, suggestion_reject, "Rejected")


class MergeStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("in_force", "In force"), ("undone", "Undone")]

    def queryset(self, request, queryset):
        if self.value() == "in_force":
            return queryset.filter(undone_at__isnull=True)
        if self.value() == "undone":
            return queryset.filter(undone_at__isnull=False)
        return queryset


# Snapshot fields a reviewer needs to see what a merge changed; the record keeps them all.
SNAPSHOT_SUMMARY_FIELDS = (
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("primary_email", "Email"),
    ("primary_phone", "Phone"),
    ("date_of_birth", "Date of birth"),
    ("postcode", "Postcode"),
    ("member_number", "Member number"),
    ("membership_status", "Membership status"),
    ("membership_tier", "Membership tier"),
    ("rounds_played", "Rounds played"),
    ("created_at", "Created"),
)


def _snapshot_value(fields: dict, name: str) -> str:
    value = fields.get(name)
    if value is None or value == "":
        return "—"
    if name == "created_at" and isinstance(value, str):
        return value[:16].replace("T", " ")  # the stored ISO timestamp, to the minute
    return str(value)


def _relation_label(label: str) -> str:
    """'crm.activity.profile' → 'activities' (the field is named when it is not 'profile')."""
    app_label, model_name, field_name = (label.split(".", 2) + ["", ""])[:3]
    try:
        name = str(apps.get_model(app_label, model_name)._meta.verbose_name_plural)
    except LookupError:
        return label
    return name if field_name == "profile" else f"{name} ({field_name.replace('_', ' ')})"


@admin.register(MergeRecord)
class MergeRecordAdmin(MergeDecisionAdmin):
    """Every merge, why it happened, and the way back: unmerge restores both profiles exactly."""

    list_display = ("created_at", "survivor", "merged", "reason", "score", "merged_by", "is_undone")
    list_filter = (MergeStateFilter, "reason")
    list_select_related = ("survivor", "merged", "merged_by")
    search_fields = ("survivor__last_name", "merged__last_name", "survivor__primary_email")
    search_help_text = "Last name of either profile, or the survivor's email."
    ordering = ("-created_at", "-pk")
    show_full_result_count = False
    actions = ("unmerge_selected",)

    @admin.display(description="Undone", boolean=True, ordering="undone_at")
    def is_undone(self, obj):
        return obj.undone_at is not None

    def get_urls(self):
        unmerge = self.admin_site.admin_view(self.unmerge_view)
        return [path("<path:object_id>/unmerge/", unmerge, name=self._url_name("unmerge")), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        record, response = self._object_or_redirect(request, object_id)
        if response:
            return response
        snapshot = record.snapshot or {}
        removed: dict[str, int] = {}
        for row in record.removed or []:
            label = row.get("model", "?") + ".profile"
            removed[label] = removed.get(label, 0) + 1
        context = {
            **self.admin_site.each_context(request),
            "title": f"Merge of #{record.merged_id} into #{record.survivor_id}",
            "opts": self.opts,
            "record": record,
            "evidence": [
                (key.replace("_", " "), _evidence_text(item)) for key, item in (record.evidence or {}).items()
            ],
            "snapshot_rows": [
                (label, *(_snapshot_value(snapshot.get(side) or {}, name) for side in ("survivor", "merged")))
                for name, label in SNAPSHOT_SUMMARY_FIELDS
            ],
            "moved": [(_relation_label(label), len(ids)) for label, ids in sorted((record.moved or {}).items())],
            "removed": [(_relation_label(label), count) for label, count in sorted(removed.items())],
            "may_unmerge": record.undone_at is None and self.has_merge_permission(request, record),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/crm/mergerecord/detail.html", context)

    def unmerge_view(self, request, object_id):
        record, response = self._post_only(request, object_id)
        if response:
            return response
        with domain_errors_shown(request):
            merge_undo(club=request.club, record_id=record.pk, actor=Actor.from_request(request))
            self.message_user(
                request,
                f"Unmerged: #{record.merged_id} and #{record.survivor_id} are two profiles again.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(self._change_url(record))

    @admin.action(description="Unmerge selected (newest first)", permissions=("merge",))
    def unmerge_selected(self, request, queryset):
        # Newest first: a profile merged twice is unwound in the reverse order of its merges.
        done, failures = 0, []
        for record_id in queryset.order_by("-created_at", "-pk").values_list("pk", flat=True):
            with domain_errors_shown() as refusal:
                merge_undo(club=request.club, record_id=record_id, actor=Actor.from_request(request))
            if refusal:
                failures.append(f"#{record_id}: {refusal.error.message}")
            else:
                done += 1
        self._report_many(request, done, "Undid", failures)
