from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from crm import selectors
from crm.current_club import club_switch
from crm.edges.pages import club_page, domain_errors_shown
from crm.kernel.actor import Actor
from crm.kernel.pagination import InvalidCursor
from crm.kernel.tenancy import get_object_in_club_or_404
from crm.models import ActivitySource, Capability, CustomerProfile, Note
from crm.models.clubs import role_allows
from crm.services.exports import profiles_export_csv


@club_page()
def dashboard(request):
    return render(request, "crm/dashboard.html", _dashboard_context(request))


@club_page()
def dashboard_counts(request):
    """The htmx-polled fragment: counts refresh without reloading the page."""
    return render(request, "crm/_dashboard_counts.html", _dashboard_context(request))


def _dashboard_context(request):
    counts = selectors.dashboard_counts(club=request.club)
    heartbeat = selectors.scheduler_last_heartbeat()
    return {
        "counts": counts,
        "status_max": max([c for _, _, c in counts.by_status] + [1]),
        "heartbeat_at": heartbeat,
        "heartbeat_age_seconds": (timezone.now() - heartbeat).total_seconds() if heartbeat else None,
    }


@require_POST
@club_page()
def switch_club(request):
    with domain_errors_shown(request):
        club = club_switch(request=request, club_id=request.POST.get("club", ""))
        messages.success(request, f"Now working in {club}.")
    return redirect(request.POST.get("next") or "crm:dashboard")


def _is_fragment_request(request) -> bool:
    """An htmx swap wants a fragment; htmx restoring history after a cache miss wants the page."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


@club_page()
def profile_list(request):
    filters = selectors.ProfileFilters.from_query(request.GET)
    page = selectors.profile_list_page(club=request.club, filters=filters, page=request.GET.get("page"))
    filter_query = urlencode(filters.as_query())
    context = {
        "page": page,
        "profiles": page.object_list,
        "filters": filters,
        "search": filters.search,
        "status": filters.status,
        "filter_query": filter_query,
        "status_choices": selectors.PROFILE_STATUS_CHOICES,
        "can_export": role_allows(request.club_role, Capability.EXPORT),
    }
    if not _is_fragment_request(request):
        return render(request, "crm/profile_list.html", context)
    response = render(request, "crm/_profile_results.html", context)
    # The address bar follows the live search and paging, without empty parameters.
    query = urlencode({**filters.as_query(), **({"page": page.number} if page.number > 1 else {})})
    response["HX-Push-Url"] = request.path + (f"?{query}" if query else "")
    return response


@club_page(Capability.EXPORT)
def profile_export(request):
    """Exports exactly the rows the list shows for the same query string (all pages)."""
    filters = selectors.ProfileFilters.from_query(request.GET)
    queryset = selectors.profile_filtered_queryset(club=request.club, filters=filters)
    lines = profiles_export_csv(club=request.club, queryset=queryset, actor=Actor.from_request(request))
    response = StreamingHttpResponse(lines, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="profiles-{request.club.slug}.csv"'
    return response


@club_page()
def profile_detail(request, profile_id):
    profile = get_object_in_club_or_404(CustomerProfile, request.club, pk=profile_id)
    # "Any type" submits an empty value; it means no filter, not "type is empty".
    sources = [value for value in request.GET.getlist("source") if value]
    types = [value for value in request.GET.getlist("type") if value]
    try:
        page = selectors.profile_timeline(
            club=request.club,
            profile=profile,
            cursor=request.GET.get("cursor") or None,
            sources=sources or None,
            types=types or None,
        )
    except InvalidCursor as error:
        return HttpResponseBadRequest(str(error))
    for activity in page.activities:
        activity.amount_note = selectors.activity_amount_note(activity, currency=request.club.currency)
    filter_query = urlencode([("source", value) for value in sources] + [("type", value) for value in types])
    context = {
        "profile": profile,
        "timeline": page,
        "sources": sources,
        "types": types,
        "filter_query": filter_query,
        "source_choices": ActivitySource.choices,
    }
    if _is_fragment_request(request) and request.GET.get("fragment") == "timeline":
        response = render(request, "crm/_timeline.html", context)
        if not request.GET.get("cursor"):
            # A filter change: keep the filters in the address bar so a reload or a shared
            # link shows the same timeline ("Older activity" pages don't move the address).
            response["HX-Push-Url"] = request.path + (f"?{filter_query}" if filter_query else "")
        return response
    # A long email wraps before its "@", never mid-word (the template sets the halves apart).
    email_local, at, email_domain = profile.primary_email.partition("@")
    context.update(
        email_parts=[email_local, at + email_domain] if at else [email_local],
        identifiers=selectors.profile_identifiers(club=request.club, profile=profile),
        notes=Note.objects.for_club(request.club).filter(profile=profile).select_related("author"),
        tags=profile.tags.order_by("name"),
        type_choices=selectors.profile_activity_types(club=request.club, profile=profile),
        can_edit=role_allows(request.club_role, Capability.EDIT_PROFILES),
    )
    return render(request, "crm/profile_detail.html", context)


def pillar_placeholder(title: str, description: str):
    """Pages for pillars a later release builds: they say so plainly and pretend nothing."""

    @club_page()
    def view(request):
        return render(request, "crm/placeholder.html", {"title": title, "description": description})

    view.__name__ = f"placeholder_{title.lower().replace(' ', '_')}"
    return view


def healthz(request):
    from django.db import connection
    from django.http import JsonResponse

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    heartbeat = selectors.scheduler_last_heartbeat()
    return JsonResponse({"status": "ok", "scheduler_last_heartbeat": heartbeat.isoformat() if heartbeat else None})
