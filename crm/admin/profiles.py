"""Profiles in the back office: the profile page (timeline, identifiers, tags, notes), tags, and
the bulk tag, merge and export actions, each through its service."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.utils.html import format_html

from crm import selectors
from crm.admin.identity import merge_message
from crm.edges.admin import BigTableAdminMixin, ClubScopedAdmin, ClubScopedAdminMixin, request_allows
from crm.edges.pages import domain_errors_shown
from crm.kernel.actor import Actor
from crm.kernel.pagination import InvalidCursor
from crm.models import (
    ActivitySource,
    Capability,
    CustomerProfile,
    MergeReason,
    Note,
    ProfileIdentifier,
    ProfileTag,
    Tag,
)
from crm.services.exports import profiles_export_csv
from crm.services.merges import profiles_merge
from crm.services.notes import note_add, note_delete, note_edit
from crm.services.profiles import (
    SOURCE_OWNED_FIELDS,
    STAFF_EDITABLE_FIELDS,
    profile_clean_contact,
    profile_save_by_staff,
)
from crm.services.tags import (
    profiles_tag,
    profiles_tag_named,
    profiles_untag,
    tag_create,
    tag_delete,
    tag_name_check,
    tag_update,
)

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
class CustomerProfileAdmin(BigTableAdminMixin, ClubScopedAdmin):
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
    list_deferred_fields = ("custom_attributes", "field_sources")
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
        if formset.model is ProfileIdentifier:  # read-only here: identifiers come from the sources
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
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
        if not request_allows(request, Capability.EDIT_PROFILES):
            self.message_user(request, "Your role cannot change tags.", messages.ERROR)
            return None
        form = TagActionForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            with domain_errors_shown(request):
                name = form.cleaned_data["tag_name"]
                ids = list(queryset.values_list("pk", flat=True))
                tag, count = profiles_tag_named(
                    club=request.club, actor=Actor.from_request(request), name=name, profile_ids=ids, remove=remove
                )
                if tag is None:  # removing a name no tag has: nothing changed, nothing was made
                    self.message_user(request, f"There is no tag called '{name}'.", messages.WARNING)
                    return None
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
        self.message_user(request, merge_message(record), messages.SUCCESS)
        return None

    @admin.action(description="Export selected profiles as CSV (audited)")
    def export_selected_csv(self, request, queryset):
        if not request_allows(request, Capability.EXPORT):
            self.message_user(request, "Your role cannot export personal data.", messages.ERROR)
            return None
        lines = profiles_export_csv(club=request.club, queryset=queryset, actor=Actor.from_request(request))
        response = StreamingHttpResponse(lines, content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="profiles-{request.club.slug}.csv"'
        return response


@admin.register(ProfileIdentifier)
class ProfileIdentifierAdmin(BigTableAdminMixin, ClubScopedAdmin):
    is_read_only = True
    list_display = ("value", "kind", "profile", "source", "last_seen_at")
    list_filter = ("kind", "source")
    list_select_related = ("profile",)
    search_fields = ("=value",)
    search_help_text = "Exact normalised value (lower-case email, E.164 phone, id)."
    fields = ("profile", "kind", "value", "source", "first_seen_at", "last_seen_at")
    readonly_fields = fields


class TagAdminForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ("name", "color")

    def clean(self):
        cleaned = super().clean()
        if "name" in cleaned:
            with domain_errors_shown(form=self, field="name"):
                cleaned["name"] = tag_name_check(
                    club=self.club, name=cleaned["name"], tag=self.instance if self.instance.pk else None
                )
        return cleaned


@admin.register(Tag)
class TagAdmin(ClubScopedAdmin):
    """Tags and their colours; creating, renaming and deleting go through the tag services, so each
    is audited and a rename or delete moves the segments built on the tag at once."""

    form = TagAdminForm
    list_display = ("name", "color", "created_at")
    search_fields = ("name",)
    fields = ("name", "color")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.club = request.club
        return form

    def save_model(self, request, obj, form, change):
        actor, data = Actor.from_request(request), form.cleaned_data
        if change:
            saved = tag_update(club=request.club, actor=actor, tag=obj, name=data["name"], color=data["color"])
        else:
            saved = tag_create(club=request.club, actor=actor, name=data["name"], color=data["color"])
        # The admin logs and redirects using `obj`; make it the row the service saved.
        obj.pk, obj.club, obj.name, obj.color = saved.pk, saved.club, saved.name, saved.color
        obj._state.adding = False

    def delete_model(self, request, obj):
        tag_delete(club=request.club, actor=Actor.from_request(request), tag=obj)

    def delete_queryset(self, request, queryset):
        for tag in queryset:
            self.delete_model(request, tag)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The form checked the name; a tag named the same a moment later is refused by the service.
        with domain_errors_shown(request):
            return super().changeform_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(request.get_full_path())
