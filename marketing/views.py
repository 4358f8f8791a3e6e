"""The marketers' segment pages (SPEC 8): list, builder with live count and sample, members,
refresh, CSV export and hand-picked lists. Views parse, call services, render. The AI builder's
action is intelligence's (intelligence/views.py); it renders into the pages here."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from crm import selectors
from crm.edges.pages import club_page, domain_errors_shown
from crm.kernel.actor import Actor
from crm.kernel.pagination import InvalidCursor
from crm.kernel.tenancy import get_object_in_club_or_404
from crm.models import Capability
from crm.models.clubs import role_allows
from marketing import forms
from marketing.models import Segment, SegmentKind
from marketing.selectors import segment_daily_changes, segment_members_page, segments_in_order
from marketing.services.rules.compiler import InvalidRule
from marketing.services.rules.explain import rule_explain
from marketing.services.segment_editing import (
    segment_create,
    segment_delete,
    segment_members_add,
    segment_members_export_csv,
    segment_members_remove,
    segment_update,
)
from marketing.services.segments import segment_names, segment_preview, segment_refresh
from marketing.tasks import sync_segment_to_messaging

MEMBERS_PAGE = 25


@club_page()
def segment_list(request):
    return segment_list_page(request)


def segment_list_page(request, *, status: int = 200, **extra):
    """The segments list; `extra` adds to its context (the AI builder's refused sentence and why)."""
    segments = segments_in_order(club=request.club)
    context = {"segments": segments, "can_market": role_allows(request.club_role, Capability.MARKET), **extra}
    return render(request, "marketing/segment_list.html", context, status=status)


@club_page(Capability.MARKET)
def segment_new(request):
    kind = request.POST.get("kind") or request.GET.get("kind") or SegmentKind.DYNAMIC
    if kind not in SegmentKind.values:
        return HttpResponseBadRequest("Unknown segment kind.")
    if request.method == "POST":
        tree = forms.nodes_from_form(request.POST)
        with domain_errors_shown() as refusal:
            segment = segment_create(
                club=request.club, actor=Actor.from_request(request), kind=kind,
                rule=forms.rule_from_nodes(tree) if kind == SegmentKind.DYNAMIC else None,
                **_details_from_form(request.POST),
            )
            messages.success(request, f"Saved '{segment.name}'.")
            return redirect("marketing:segment_detail", segment_id=segment.pk)
        return segment_builder_page(request, None, tree=tree, kind=kind, error=refusal.error, status=refusal.status)
    return segment_builder_page(request, None, tree=forms.empty_tree(), kind=kind)


@club_page()
def segment_detail(request, segment_id: int):
    segment = get_object_in_club_or_404(Segment, request.club, pk=segment_id)
    if request.method == "POST":
        if not role_allows(request.club_role, Capability.MARKET):
            raise PermissionDenied(f"Your role at {request.club} cannot do this.")
        tree = forms.nodes_from_form(request.POST)
        changes = _details_from_form(request.POST)
        if segment.kind == SegmentKind.DYNAMIC:
            changes["rule"] = forms.rule_from_nodes(tree)
        with domain_errors_shown() as refusal:
            saved = segment_update(
                club=request.club, actor=Actor.from_request(request), segment=segment, **changes
            )
            messages.success(request, f"Saved '{saved.name}'.")
            return redirect("marketing:segment_detail", segment_id=saved.pk)
        return segment_builder_page(
            request, segment, tree=tree, kind=segment.kind, error=refusal.error, status=refusal.status
        )
    return segment_builder_page(request, segment, tree=forms.nodes_from_rule(segment.rule), kind=segment.kind)


def _details_from_form(data) -> dict:
    return {
        "name": data.get("name", ""),
        "description": data.get("description", ""),
        "sync_to_messaging": data.get("sync_to_messaging") == "on",
    }


def segment_builder_page(request, segment, *, tree, kind, error=None, status=200, draft=None):
    """The builder page for `segment` (None: a new one) showing `tree`; a `draft` (the AI builder's)
    arrives counted and explained, and its problems sit next to their conditions."""
    unclaimed = forms.attach_errors(tree) if kind == SegmentKind.DYNAMIC and (error or draft) else []
    name = request.POST.get("name", segment.name if segment else "")
    if draft is not None and not name:
        name = draft.text[:80]
    context = {
        "segment": segment,
        "kind": kind,
        "tree": tree,
        "choices": forms.builder_choices(),
        "club_segments": _other_segments(request.club, segment),
        "error": error,
        "rule_errors": unclaimed,
        "draft": draft,
        "form_name": name,
        "form_description": request.POST.get("description", segment.description if segment else ""),
        "form_sync": request.POST.get("sync_to_messaging") == "on" if request.method == "POST" else bool(
            segment and segment.sync_to_messaging
        ),
        "can_market": role_allows(request.club_role, Capability.MARKET),
        "can_export": role_allows(request.club_role, Capability.EXPORT),
    }
    if draft is not None:  # counted and explained already, by the builder that drafted it
        context["preview"] = {"count": draft.count, "sample": draft.sample, "explanation": draft.explanation}
    elif kind == SegmentKind.DYNAMIC and context["can_market"]:
        context["preview"] = _preview_context(request.club, tree)
    elif kind == SegmentKind.DYNAMIC:  # read-only: the rule in words, not a club-wide count
        names = segment_names(club=request.club, rule=segment.rule)
        context["preview"] = {"explanation": rule_explain(segment.rule, segment_names=names)}
    if segment is not None:
        context.update(_members_context(request, segment, cursor=None))
        context.update(_changes_chart(segment_daily_changes(club=request.club, segment=segment, days=30)))
    return render(request, "marketing/segment_builder.html", context, status=status)


def _changes_chart(days) -> dict:
    """Bars for the entered/left chart: up for entered, down for left, scaled to the busiest day."""
    peak = max([max(day.entered, day.exited) for day in days] + [1])
    bars = []
    for day in days:
        entered_h, exited_h = round(28 * day.entered / peak), round(28 * day.exited / peak)
        bars.append(
            {"day": day.day, "entered": day.entered, "exited": day.exited, "entered_h": entered_h,
             "entered_y": 30 - entered_h, "exited_h": exited_h}
        )
    return {"daily_changes": bars, "daily_peak": peak, "chart_width": 12 * len(days)}


def _other_segments(club, segment):
    """The segments an "in segment" condition may name: the club's, less the one being edited."""
    segments = segments_in_order(club=club).only("pk", "name")
    segment_id = getattr(segment, "pk", segment)
    return segments.exclude(pk=segment_id) if segment_id else segments


def _preview_context(club, tree) -> dict:
    """Count, explanation and sample for the tree, or the problems that stop it from running."""
    rule = forms.rule_from_nodes(tree)
    try:
        preview = segment_preview(club=club, rule=rule)
    except InvalidRule as error:
        return {"problems": [f"{problem.message}" for problem in error.errors]}
    return {"count": preview.count, "sample": preview.sample, "explanation": preview.explanation}


@require_POST
@club_page(Capability.MARKET)
def segment_builder_edit(request):
    """htmx: apply an add/remove (or a changed field menu) and re-render the editor and preview."""
    tree = forms.apply_action(forms.nodes_from_form(request.POST), request.POST.get("action", ""))
    editing = request.POST.get("segment", "")
    context = {
        "tree": tree,
        "choices": forms.builder_choices(),
        # Not the segment being edited: referring to itself would be refused on save.
        "club_segments": _other_segments(request.club, int(editing) if editing.isdigit() else None),
        "preview": _preview_context(request.club, tree),
        "oob": True,
    }
    return render(request, "marketing/_editor.html", context)


@require_POST
@club_page(Capability.MARKET)
def segment_builder_preview(request):
    tree = forms.nodes_from_form(request.POST)
    return render(request, "marketing/_preview.html", {"preview": _preview_context(request.club, tree)})


@require_POST
@club_page(Capability.MARKET)
def segment_refresh_now(request, segment_id: int):
    segment = get_object_in_club_or_404(Segment, request.club, pk=segment_id)
    with domain_errors_shown(request):
        result = segment_refresh(club=request.club, segment=segment)
        messages.success(request, f"Refreshed: {result.summary()}.")
    return redirect("marketing:segment_detail", segment_id=segment.pk)


@require_POST
@club_page(Capability.MARKET)
def segment_sync_now(request, segment_id: int):
    """Queue a sync (it may take minutes of Messaging calls: never inside a web request); the
    status on the page says how it went."""
    segment = get_object_in_club_or_404(Segment, request.club, pk=segment_id)
    if not segment.sync_to_messaging:
        messages.error(request, "Tick “Keep a Messaging list in step” and save first.")
    else:
        sync_segment_to_messaging.delay(request.club.pk, segment.pk)
        messages.success(request, "Sync to Messaging started; the status above shows how it went.")
    return redirect("marketing:segment_detail", segment_id=segment.pk)


@require_POST
@club_page(Capability.MARKET)
def segment_delete_view(request, segment_id: int):
    segment = get_object_in_club_or_404(Segment, request.club, pk=segment_id)
    with domain_errors_shown(request):
        segment_delete(club=request.club, actor=Actor.from_request(request), segment=segment)
        messages.success(request, f"Deleted '{segment.name}'.")
        return redirect("marketing:segment_list")
    return redirect("marketing:segment_detail", segment_id=segment.pk)


@club_page()
def segment_members(request, segment_id: int):
    """htmx: the next page of members ("Older")."""
    segment = get_object_in_club_or_404(Segment, request.club, pk=segment_id)
    try:
        context = _members_context(request, segment, cursor=request.GET.get("cursor"))
    except InvalidCursor as error:
        return HttpResponseBadRequest(str(error))
    return render(request, "marketing/_members.html", {**context, "append": True})


def _members_context(request, segment, *, cursor) -> dict:
    """What the members rows need, for the first page and every "older" page alike."""
    return {
        "segment": segment,
        "members": segment_members_page(club=request.club, segment=segment, cursor=cursor, limit=MEMBERS_PAGE),
        "can_market": role_allows(request.club_role, Capability.MARKET),
    }


@club_page(Capability.EXPORT)
def segment_export(request, segment_id: int):
    segment = get_object_in_club_or_404(Segment, request.club, pk=segment_id)
    lines = segment_members_export_csv(
        club=request.club, actor=Actor.from_request(request), segment=segment
    )
    response = StreamingHttpResponse(lines, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}-{request.club.slug}.csv"'
    return response


@require_POST
@club_page(Capability.MARKET)
def segment_members_change(request, segment_id: int):
    """Hand-picked lists: add one profile found by search, or remove one from the members list."""
    segment = get_object_in_club_or_404(Segment, request.club, pk=segment_id)
    remove = request.POST.get("change") == "remove"
    change = segment_members_remove if remove else segment_members_add
    with domain_errors_shown(request):
        result = change(
            club=request.club, actor=Actor.from_request(request), segment=segment,
            profile_ids=request.POST.getlist("profile_id"),
        )
        messages.success(request, f"{'Removed' if remove else 'Added'}: {result.summary()}.")
    return redirect(reverse("marketing:segment_detail", args=[segment.pk]) + "#members")


@club_page(Capability.MARKET)
def segment_candidate_search(request, segment_id: int):
    """htmx: profiles matching a search, to add to a hand-picked list."""
    segment = get_object_in_club_or_404(Segment, request.club, pk=segment_id)
    query = " ".join(request.GET.get("q", "").split())
    found = []
    if len(query) >= 2:
        filters = selectors.ProfileFilters(search=query)
        found = list(selectors.profile_filtered_queryset(club=request.club, filters=filters)[:10])
    return render(request, "marketing/_candidates.html", {"segment": segment, "found": found, "query": query})

