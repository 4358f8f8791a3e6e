"""Segments in the back office: the same services as the pages and the API (validation, audit,
refresh), plus refresh and Messaging sync on demand and hand-picking for static lists."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Q

from crm.edges.admin import BigTableAdminMixin, ClubScopedAdmin
from crm.edges.pages import domain_errors_shown
from crm.kernel.actor import Actor
from crm.models import Capability, CustomerProfile
from marketing.models import MessageSend, Segment, SegmentKind
from marketing.services.segment_editing import (
    MAX_HAND_PICKED,
    segment_create,
    segment_delete,
    segment_members_add,
    segment_members_remove,
    segment_rule_check,
    segment_update,
    segments_built_on,
)
from marketing.services.segments import segment_refresh
from marketing.tasks import sync_segment_to_messaging


class SegmentAdminForm(forms.ModelForm):
    add_profiles = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Hand-picked lists only: profile ids or member numbers to add, separated by spaces or lines.",
    )
    remove_profiles = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="Profile ids or member numbers to remove."
    )

    class Meta:
        model = Segment
        fields = ("name", "description", "kind", "rule", "sync_to_messaging")

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind") or (self.instance.kind if self.instance.pk else SegmentKind.DYNAMIC)
        if self.instance.pk and kind != self.instance.kind:
            self.add_error("kind", "A segment's kind can't change; make a new segment instead.")
        with domain_errors_shown(form=self, field="rule"):
            segment_rule_check(
                self.club, kind=kind, rule=cleaned.get("rule"), segment=self.instance if self.instance.pk else None
            )
        name = " ".join((cleaned.get("name") or "").split())
        taken = Segment.objects.for_club(self.club).filter(name__iexact=name).exclude(pk=self.instance.pk)
        if name and taken.exists():
            self.add_error("name", f"There is already a segment called '{name}'.")
        for name in ("add_profiles", "remove_profiles"):
            if cleaned.get(name) and kind != SegmentKind.STATIC:
                self.add_error(name, "Only hand-picked lists take profiles by hand; a rule decides the others.")
            cleaned[name] = self._profile_ids(cleaned.get(name, ""), name)
        return cleaned

    def _profile_ids(self, text: str, name: str) -> list[int]:
        tokens = text.replace(",", " ").split()
        if not tokens:
            return []
        if len(tokens) > MAX_HAND_PICKED:
            self.add_error(name, f"At most {MAX_HAND_PICKED:,} at a time.")
            return []
        numbers = [int(token) for token in tokens if token.isdigit()]
        found = CustomerProfile.objects.for_club(self.club).filter(Q(pk__in=numbers) | Q(member_number__in=tokens))
        ids = list(found.values_list("pk", flat=True))
        if not ids:
            self.add_error(name, "None of those are profiles of this club.")
        return ids


@admin.register(Segment)
class SegmentAdmin(ClubScopedAdmin):
    form = SegmentAdminForm
    edit_capability = Capability.MARKET
    list_display = ("name", "kind", "member_count", "last_refreshed_at", "last_refresh_ms", "sync_status")
    list_filter = ("kind", "sync_status")
    search_fields = ("name",)
    readonly_fields = (
        "member_count", "last_refreshed_at", "last_refresh_ms", "messaging_list_id", "sync_status",
        "last_synced_at", "sync_error", "created_by", "created_at",
    )
    actions = ("refresh_now", "sync_now")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.club = request.club
        return form

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        details = {name: data.get(name) for name in ("name", "description", "rule", "sync_to_messaging")}
        if change:
            saved = segment_update(club=request.club, actor=Actor.from_request(request), segment=obj, **details)
        else:
            saved = segment_create(
                club=request.club, actor=Actor.from_request(request), kind=data.get("kind") or SegmentKind.DYNAMIC,
                **details,
            )
        obj.pk, obj.club = saved.pk, saved.club
        hand_picking = (("add_profiles", segment_members_add), ("remove_profiles", segment_members_remove))
        for name, change_members in hand_picking:
            if data.get(name):
                result = change_members(
                    club=request.club, actor=Actor.from_request(request), segment=saved, profile_ids=data[name]
                )
                messages.info(request, f"{result.summary()}.")

    def get_deleted_objects(self, objs, request):
        """A segment other segments build on is shown as protected, so the admin refuses to delete
        it (and says why) instead of reporting a delete the service then declined."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for segment in objs:
            users = segments_built_on(club=request.club, segment=segment)
            protected += [f"{name} (builds on {segment.name})" for name in users]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        segment_delete(club=request.club, actor=Actor.from_request(request), segment=obj)

    def delete_queryset(self, request, queryset):
        for segment in queryset:
            self.delete_model(request, segment)

    @admin.action(description="Refresh selected segments now")
    def refresh_now(self, request, queryset):
        for segment in queryset.filter(kind=SegmentKind.DYNAMIC):
            with domain_errors_shown(request, prefix=f"{segment.name}: "):
                result = segment_refresh(club=request.club, segment=segment)
                messages.success(request, f"{segment.name}: {result.summary()}.")

    @admin.action(description="Sync selected segments to Messaging now")
    def sync_now(self, request, queryset):
        """Queued, like the page's button: a sync can take minutes of Messaging calls."""
        flagged = list(queryset.filter(sync_to_messaging=True).values_list("pk", flat=True))
        for segment_id in flagged:
            sync_segment_to_messaging.delay(request.club.pk, segment_id)
        messages.success(request, f"Sync to Messaging started for {len(flagged)} segment(s).")


@admin.register(MessageSend)
class MessageSendAdmin(BigTableAdminMixin, ClubScopedAdmin):
    """The send ledger, to answer "did this person get that message, and if not why": read-only,
    since only the send service may write it."""

    is_read_only = True
    list_display = ("created_at", "profile", "channel", "source_kind", "source_id", "status", "skip_reason", "sent_at")
    list_filter = ("status", "channel", "source_kind", "skip_reason")
    list_select_related = ("profile",)
    search_fields = ("=profile__id", "=source_id", "=message_id")
    search_help_text = "Exact profile id, source id or Messaging message id."
    fields = (
        "profile",
        "source_kind",
        "source_id",
        "channel",
        "status",
        "skip_reason",
        "error",
        "due_at",
        "claimed_until",
        "attempts",
        "message_id",
        "created_at",
        "sent_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-created_at", "-id")
