"""Reads shared by pages, admin, the REST API and GraphQL. Every function takes the club explicitly."""

import re
from dataclasses import dataclass
from datetime import datetime

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from crm.errors import CrmError
from crm.identity.identifiers import IdentifierKind, identifier_normalise, phone_to_e164
from crm.kernel.pagination import keyset_page
from crm.models import (
    Activity,
    Club,
    CustomerProfile,
    InboundEvent,
    MembershipStatus,
    ProfileIdentifier,
    SchedulerHeartbeat,
)


def clubs_for_user(*, user) -> list[Club]:
    if user.is_superuser:
        return list(Club.objects.order_by("name"))
    return list(Club.objects.filter(memberships__user=user).order_by("name"))


def profile_active_queryset(*, club):
    """Profiles staff work with: not merged away, not erased."""
    return CustomerProfile.objects.for_club(club).filter(merged_into__isnull=True, is_erased=False)


# The profile list's value for "membership status is blank" (an empty value means "any status").
STATUS_NONE = "none"
PROFILE_STATUS_CHOICES = [*MembershipStatus.choices, (STATUS_NONE, "Unknown")]


@dataclass(frozen=True)
class DashboardCounts:
    total: int
    by_status: list[tuple[str, str, int]]  # (filter value for the profile list, label, count)
    new_last_30_days: int


def dashboard_counts(*, club) -> DashboardCounts:
    """All dashboard figures in one aggregate query over the club's profiles.

    No lifecycle figures: stages are computed by engagement scoring, which is not built yet, so
    every profile still holds the default stage and a chart of it would state nothing true.
    """
    since = timezone.now() - timezone.timedelta(days=30)
    aggregates = {"total": Count("pk"), "new_30": Count("pk", filter=Q(created_at__gte=since))}
    for status in MembershipStatus:
        aggregates[f"status_{status.value}"] = Count("pk", filter=Q(membership_status=status.value))
    aggregates["status_none"] = Count("pk", filter=Q(membership_status=""))
    row = profile_active_queryset(club=club).aggregate(**aggregates)
    by_status = [(s.value, s.label, row[f"status_{s.value}"]) for s in MembershipStatus]
    by_status.append((STATUS_NONE, dict(PROFILE_STATUS_CHOICES)[STATUS_NONE], row["status_none"]))
    return DashboardCounts(row["total"], by_status, row["new_30"])


# --- Profile list -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileFilters:
    """What the profile list and its CSV export narrow by; built from a query string."""

    search: str = ""
    status: str = ""  # a MembershipStatus value, STATUS_NONE, or "" for any
    tier: str = ""  # exact membership tier
    tag: str = ""  # exact tag name
    updated_since: datetime | None = None  # integrations syncing changes

    @classmethod
    def from_query(cls, query) -> "ProfileFilters":
        status = query.get("status", "").strip()
        if status not in MembershipStatus.values and status != STATUS_NONE:
            status = ""  # an unknown value filters nothing rather than listing nobody
        return cls(search=" ".join(query.get("q", "").split()), status=status)

    @property
    def active(self) -> bool:
        return bool(self.search or self.status)

    @property
    def description(self) -> str:
        """The active filters in words, e.g. 'search “merwe”, status Lapsed'."""
        parts = []
        if self.search:
            parts.append(f"search “{self.search}”")
        if self.status:
            parts.append(f"status {dict(PROFILE_STATUS_CHOICES)[self.status]}")
        return ", ".join(parts)

    def as_query(self) -> dict[str, str]:
        """The non-empty filters as query-string parameters (for links and the export)."""
        return {key: value for key, value in (("q", self.search), ("status", self.status)) if value}


def profile_filtered_queryset(*, club, filters: ProfileFilters):
    """The club's active profiles narrowed by the list filters; the export uses the same rows."""
    queryset = profile_active_queryset(club=club)
    if filters.search:
        queryset = profile_search(queryset, search=filters.search, club=club)
    if filters.status == STATUS_NONE:
        queryset = queryset.filter(membership_status="")
    elif filters.status:
        queryset = queryset.filter(membership_status=filters.status)
    return narrowed(
        queryset, membership_tier=filters.tier, tags__name=filters.tag, updated_at__gte=filters.updated_since
    )


def club_tiers(*, club) -> list[str]:
    """The membership tiers the club's live profiles hold, A–Z (SCL's own names: "Full", "Gold"…)."""
    tiers = profile_active_queryset(club=club).exclude(membership_tier="").values_list("membership_tier", flat=True)
    return list(tiers.distinct().order_by("membership_tier"))


def narrowed(queryset, **lookups):
    """The queryset filtered by each lookup that was given a value (an absent filter is None or
    empty): list filters are optional one by one."""
    given = {lookup: value for lookup, value in lookups.items() if value not in (None, "", [], ())}
    return queryset.filter(**given) if given else queryset


PROFILE_PAGE_SIZE = 50


def profile_list_page(*, club, filters: ProfileFilters, page: str | int | None = 1) -> Page:
    """One page of the profile list by name, with the total: a COUNT and one page query.

    Page numbers (not keyset) because staff jump around an alphabetical list and want
    "page 3 of 40"; a club has thousands of profiles, not millions, so the OFFSET stays cheap.
    An out-of-range or garbled page number shows the nearest real page.
    """
    queryset = profile_filtered_queryset(club=club, filters=filters).order_by("last_name", "first_name", "pk")
    return Paginator(queryset, PROFILE_PAGE_SIZE).get_page(page)


def scheduler_last_heartbeat() -> datetime | None:
    beat = SchedulerHeartbeat.objects.filter(name="scheduler").first()
    return beat.last_run_at if beat else None


# --- Timeline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelinePage:
    activities: list[Activity]
    next_cursor: str | None


def profile_timeline(
    *,
    club,
    profile,  # a profile or its id
    cursor: str | None = None,
    limit: int = 50,
    sources: list[str] | None = None,
    types: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    as_rows: tuple[str, ...] | None = None,
) -> TimelinePage:
    """Newest first, keyset-paginated on (occurred_at, id) so page 1,000 costs what page 1 does.

    Walks the `activity_timeline` index; no OFFSET and no COUNT(*). `as_rows` names fields to
    return as dicts instead of model instances: the API's pages need no more and build faster.
    """
    queryset = narrowed(
        Activity.objects.for_club(club).filter(profile=profile),
        source__in=sources,
        type__in=types,
        occurred_at__gte=since,
        occurred_at__lt=until,
    )
    if as_rows:
        queryset = queryset.values(*as_rows)
    page = keyset_page(queryset, ordering=("-occurred_at", "-id"), cursor=cursor, limit=limit)
    return TimelinePage(page.rows, page.next_cursor)


def activity_amount_note(activity: Activity, *, currency: str) -> str:
    """The amount to show beside a timeline line, or "" when it is zero, missing or already in it.

    Payment summaries state their amount themselves; renewals and bookings carry it only here.
    """
    if not activity.amount:
        return ""
    if f"{activity.amount:,.2f}" in activity.summary:
        return ""
    properties = activity.properties if isinstance(activity.properties, dict) else {}
    return f"{properties.get('currency') or currency} {activity.amount:,.2f}"


@dataclass(frozen=True)
class IdentifierRow:
    kind: str
    label: str
    value: str


def identifiers_in_order(*, club):
    """The club's identifiers in the order every page and API shows them: by kind, then value."""
    return ProfileIdentifier.objects.for_club(club).order_by("kind", "value")


def profile_identifiers(*, club, profile) -> list[IdentifierRow]:
    """The profile's identifiers with readable kind labels; custom kinds get theirs from the name."""
    labels = dict(IdentifierKind.choices)
    rows = identifiers_in_order(club=club).filter(profile=profile)
    return [
        IdentifierRow(row.kind, labels.get(row.kind) or row.kind.replace("_", " ").capitalize(), row.value)
        for row in rows
    ]


def identifiers_lookup(*, club, kind: str, raw_value: str) -> list[ProfileIdentifier]:
    """Who in the club holds this key, normalised as ingestion does; raises CrmError if it can't be."""
    value = identifier_normalise(kind=kind, raw_value=raw_value, region=club.default_phone_region)
    return list(
        ProfileIdentifier.objects.for_club(club)
        .filter(kind=kind, value=value, profile__in=profile_active_queryset(club=club))
        .order_by("profile_id")
    )


def profile_activity_types(*, club, profile) -> list[str]:
    return list(
        Activity.objects.for_club(club)
        .filter(profile=profile)
        .values_list("type", flat=True)
        .distinct()
        .order_by("type")
    )


def profile_search(queryset, *, search: str, club):
    """Staff and API search: an email, a phone, a member number or a name, each matched the indexed way.

    Emails and phones are normalised first and matched exactly (on the profile or any of its
    identifiers), so "082 123 4567" finds +27821234567. Names and member numbers match by word
    prefix: every word of the query must start a word of the first name, last name or member
    number, so "van der Merwe", "Merwe", "anna van d", "Smith" (for "Jones-Smith") and "m1042"
    all find their people. On PostgreSQL that is full-text search (`word:* & word:*`) over the
    GIN index `profile_search_document`; elsewhere prefix LIKEs on the club's rows.
    """
    search = " ".join(search.split())
    if "@" in search:
        return queryset.filter(pk__in=_key_holders(club, kind="email", value=search.lower(), own_field="primary_email"))
    digits = "".join(ch for ch in search if ch.isdigit())
    if digits and len(digits) >= 7 and not any(ch.isalpha() for ch in search):
        holders = _member_number_holders(club, search)
        try:
            phone = phone_to_e164(search, region=club.default_phone_region)
        except CrmError:
            return queryset.filter(pk__in=holders)
        return queryset.filter(
            pk__in=holders | _key_holders(club, kind="phone", value=phone, own_field="primary_phone")
        )
    words = SEARCH_WORD.findall(search.lower())
    if not words:
        return queryset.none()
    if connection.vendor == "postgresql":
        prefixes = " & ".join(f"{word}:*" for word in words)
        matches = Q(search_document=SearchQuery(prefixes, config="simple", search_type="raw"))
        # The parser splits "M-777" into "m" and "-777", so a whole member number is also matched
        # as typed (ids first, so the OR doesn't turn the search into a scan).
        if any(ch.isdigit() for ch in search) and (holders := _member_number_holders(club, search)):
            matches |= Q(pk__in=holders)
        return queryset.annotate(search_document=profile_search_document()).filter(matches)
    every_word = Q()
    for word in search.split(" "):
        every_word &= _starts_a_name_word(word)
    return queryset.filter(Q(member_number__istartswith=search) | every_word)


def _member_number_holders(club, search: str) -> set[int]:
    """Profiles whose member number is exactly what was typed (or its upper case)."""
    numbered = CustomerProfile.objects.for_club(club).filter(member_number__in={search, search.upper()})
    return set(numbered.values_list("pk", flat=True))


def _key_holders(club, *, kind: str, value: str, own_field: str) -> set[int]:
    """Profiles with this email or phone as their own or as any identifier: two index lookups.

    Resolved to ids first because OR-ing "own field = x" with "id IN (identifier holders)" in one
    WHERE makes PostgreSQL walk every profile of the club (3 s at a million profiles).
    """
    own = CustomerProfile.objects.for_club(club).filter(**{own_field: value}).values_list("pk", flat=True)
    linked = (
        ProfileIdentifier.objects.for_club(club).filter(kind=kind, value=value).values_list("profile_id", flat=True)
    )
    return {*own, *linked}


# Words as PostgreSQL's parser splits names: "O'Brien" is o + brien, "Jones-Smith" jones + smith.
# Only these characters reach the tsquery, so nothing a user types can break its syntax.
SEARCH_WORD = re.compile(r"[^\W_]+")


def profile_search_document():
    """The indexed search document; must match migration 0005's GIN index expression exactly."""
    return SearchVector("first_name", "last_name", "member_number", config="simple")


# Characters that start a new word inside a name: "van der Merwe", "Jones-Smith", "O'Brien".
NAME_WORD_SEPARATORS = (" ", "-", "'")


def _starts_a_name_word(word: str) -> Q:
    match = Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
    for separator in NAME_WORD_SEPARATORS:
        match |= Q(first_name__icontains=separator + word) | Q(last_name__icontains=separator + word)
    return match


# --- Inbound events -----------------------------------------------------------------------


def inbound_events_filtered(
    *,
    club,
    status: str | None = None,
    source: str | None = None,
    type: str | None = None,
    event_id: str | None = None,
    received_since: datetime | None = None,
    received_until: datetime | None = None,
):
    """The club's received events narrowed for the integrator's view (unordered: callers page it)."""
    return narrowed(
        InboundEvent.objects.for_club(club),
        status=status,
        source=source,
        type=type,
        event_id=event_id,
        received_at__gte=received_since,
        received_at__lt=received_until,
    )
