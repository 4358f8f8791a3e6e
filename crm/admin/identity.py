"""Identity review: merge suggestions compared side by side, and merge records with their way back."""

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from crm.edges.admin import BigTableAdminMixin, ClubScopedAdmin, request_allows
from crm.edges.pages import domain_errors_shown
from crm.kernel.actor import Actor
from crm.models import (
    Activity,
    Capability,
    CustomerProfile,
    MergeRecord,
    MergeSuggestion,
    ProfileIdentifier,
    SuggestionStatus,
)
from crm.services.merges import live_profile_id, merge_undo
from crm.services.suggestions import suggestion_accept, suggestion_reject


def merge_message(record: MergeRecord):
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
        return request_allows(request, self.merge_capability) and self._in_club(request, obj)

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

    def _act_on_each(self, request, ids, act, verb: str) -> None:
        """`act(id)` for each id in turn (each its own transaction), then one report: how many were
        done, and the first refusals with their reasons."""
        done, failures = 0, []
        for object_id in ids:
            with domain_errors_shown() as refusal:
                act(object_id)
            if refusal:
                failures.append(f"#{object_id}: {refusal.error.message}")
            else:
                done += 1
        if done:
            self.message_user(request, f"{verb} {done} {self.opts.verbose_name}(s).", messages.SUCCESS)
        if failures:
            shown = "; ".join(failures[:5]) + (f" (and {len(failures) - 5} more)" if len(failures) > 5 else "")
            self.message_user(request, f"{len(failures)} not done: {shown}", messages.ERROR)


@admin.register(MergeSuggestion)
class MergeSuggestionAdmin(BigTableAdminMixin, MergeDecisionAdmin):
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
            self.message_user(request, merge_message(record), messages.SUCCESS)
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
        actor = Actor.from_request(request)
        self._act_on_each(
            request,
            queryset.order_by("-score", "pk").values_list("pk", flat=True),
            lambda suggestion_id: service(club=request.club, suggestion_id=suggestion_id, actor=actor),
            verb,
        )

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
class MergeRecordAdmin(BigTableAdminMixin, MergeDecisionAdmin):
    """Every merge, why it happened, and the way back: unmerge restores both profiles exactly."""

    list_display = ("created_at", "survivor", "merged", "reason", "score", "merged_by", "is_undone")
    list_filter = (MergeStateFilter, "reason")
    list_select_related = ("survivor", "merged", "merged_by")
    search_fields = ("survivor__last_name", "merged__last_name", "survivor__primary_email")
    search_help_text = "Last name of either profile, or the survivor's email."
    ordering = ("-created_at", "-pk")
    actions = ("unmerge_selected",)
    list_deferred_fields = ("evidence", "snapshot", "moved", "removed")

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
        actor = Actor.from_request(request)
        self._act_on_each(
            request,
            queryset.order_by("-created_at", "-pk").values_list("pk", flat=True),
            lambda record_id: merge_undo(club=request.club, record_id=record_id, actor=actor),
            "Undid",
        )
