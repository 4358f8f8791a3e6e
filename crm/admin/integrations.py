"""The systems that talk to the CRM: inbound events (and the dead-letter view), API keys, signing
secrets, and the tournaments TeeTime sends."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from crm.edges.admin import BigTableAdminMixin, ClubScopedAdmin, request_allows
from crm.edges.pages import domain_errors_shown
from crm.events.replay import REPLAYABLE, events_replay, signing_secret_create, signing_secret_revoke
from crm.kernel.actor import Actor
from crm.models import (
    INBOUND_EVENT_FIELDS,
    ApiKey,
    ApiScope,
    Capability,
    EventSigningSecret,
    InboundEvent,
    Tournament,
)
from crm.services.api_keys import api_key_create, api_key_revoke, api_key_update


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
class InboundEventAdmin(BigTableAdminMixin, ClubScopedAdmin):
    """Every event received, and the dead-letter view: rejected and failed events with their reasons."""

    view_capability = Capability.MANAGE_CLUB
    edit_capability = Capability.MANAGE_CLUB
    list_display = ("received_at", "source", "type", "event_id", "status", "attempts", "problem")
    list_filter = (ProblemEventFilter, "status", "source", "transport")
    search_fields = ("=event_id", "=type")
    search_help_text = "Exact event id or type."
    actions = ("replay_selected",)
    list_deferred_fields = ("data",)  # errors and warnings are the list's "problem" column
    fields = (*INBOUND_EVENT_FIELDS, "data")
    readonly_fields = fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-received_at", "-id")

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
        if not request_allows(request, Capability.MANAGE_CLUB):
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


class ApiKeyForm(forms.ModelForm):
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
    form = ApiKeyForm

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "scopes", "expires_at")
        return ("name", "prefix", "scopes", "created_by", "created_at", "last_used_at", "expires_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("prefix", "created_by", "created_at", "last_used_at", "revoked_at")

    def has_change_permission(self, request, obj=None):
        # A revoked key stays as it was revoked: its page is for reading.
        return super().has_change_permission(request, obj) and (obj is None or obj.revoked_at is None)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit trail keeps naming the key

    @admin.display(description="Scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    def save_model(self, request, obj, form, change):
        if change:
            api_key_update(
                club=request.club,
                actor=Actor.from_request(request),
                api_key=obj,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.cleaned_data.get("expires_at"),
            )
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

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A key revoked while its page was open is refused by api_key_update: shown, not a 500.
        with domain_errors_shown(request):
            return super().changeform_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(request.get_full_path())

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
    actions = ("revoke_selected",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = SigningSecretAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("source", "label") if obj is None else ("source", "label", "is_active", "created_at", "last_used_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # Unticking "active" revokes the secret; a revoked one is never made active again (a new
        # secret is made instead), and the label stays what the audit trail named it.
        return ("source", "label", "created_at", "last_used_at", *(() if obj.is_active else ("is_active",)))

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead, so the history of which secret signed what stays

    def save_model(self, request, obj, form, change):
        if change:
            if "is_active" in form.changed_data and not form.cleaned_data["is_active"]:
                signing_secret_revoke(club=request.club, actor=Actor.from_request(request), secret=obj)
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

    @admin.action(description="Revoke selected secrets")
    def revoke_selected(self, request, queryset):
        secrets = list(queryset.filter(is_active=True))
        for secret in secrets:
            signing_secret_revoke(club=request.club, actor=Actor.from_request(request), secret=secret)
        self.message_user(request, f"Revoked {len(secrets)} secret(s).", messages.SUCCESS)


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
