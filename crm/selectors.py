"""Reads shared by pages, admin and (later) the API. Every function takes the club explicitly."""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from crm.models import Activity, Club, CustomerProfile, LifecycleStage, MembershipStatus, SchedulerHeartbeat


def clubs_for_user(*, user) -> list[Club]:
    if user.is_superuser:
        return list(Club.objects.order_by("name"))
    return list(Club.objects.filter(memberships__user=user).order_by("name"))


def profile_active_queryset(*, club):
    """Profiles staff work with: not merged away, not erased."""
    return CustomerProfile.objects.for_club(club).filter(merged_into__isnull=True, is_erased=False)


@dataclass(frozen=True)
class DashboardCounts:
    total: int
    by_status: list[tuple[str, str, int]]  # (value, label, count)
    by_lifecycle: list[tuple[str, str, int]]
    new_last_30_days: int


def dashboard_counts(*, club) -> DashboardCounts:
    """All dashboard figures in one aggregate query over the club's profiles."""
    since = timezone.now() - timezone.timedelta(days=30)
    aggregates = {"total": Count("pk"), "new_30": Count("pk", filter=Q(created_at__gte=since))}
    for status in MembershipStatus:
        aggregates[f"status_{status.value}"] = Count("pk", filter=Q(membership_status=status.value))
    aggregates["status_"] = Count("pk", filter=Q(membership_status=""))
    for stage in LifecycleStage:
        aggregates[f"stage_{stage.value}"] = Count("pk", filter=Q(lifecycle_stage=stage.value))
    row = profile_active_queryset(club=club).aggregate(**aggregates)
    by_status = [(s.value, s.label, row[f"status_{s.value}"]) for s in MembershipStatus]
    by_status.append(("", "Unknown", row["status_"]))
    by_lifecycle = [(s.value, s.label, row[f"stage_{s.value}"]) for s in LifecycleStage]
    return DashboardCounts(row["total"], by_status, by_lifecycle, row["new_30"])


def scheduler_last_heartbeat() -> datetime | None:
    beat = SchedulerHeartbeat.objects.filter(name="scheduler").first()
    return beat.last_run_at if beat else None


# --- Timeline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelinePage:
    activities: list[Activity]
    next_cursor: str | None


class InvalidCursor(ValueError):
    pass


def _encode_cursor(activity: Activity) -> str:
    raw = f"{activity.occurred_at.isoformat()}|{activity.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        occurred_at, pk = base64.urlsafe_b64decode(padded).decode().split("|")
        return datetime.fromisoformat(occurred_at), int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidCursor("That timeline cursor is not valid.") from error


def profile_timeline(
    *,
    club,
    profile,
    cursor: str | None = None,
    limit: int = 50,
    sources: list[str] | None = None,
    types: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> TimelinePage:
    """Newest first, keyset-paginated on (occurred_at, id) so page 1,000 costs what page 1 does.

    Walks the `activity_timeline` index; no OFFSET and no COUNT(*).
    """
    queryset = Activity.objects.for_club(club).filter(profile=profile)
    if sources:
        queryset = queryset.filter(source__in=sources)
    if types:
        queryset = queryset.filter(type__in=types)
    if since:
        queryset = queryset.filter(occurred_at__gte=since)
    if until:
        queryset = queryset.filter(occurred_at__lt=until)
    if cursor:
        occurred_at, pk = _decode_cursor(cursor)
        queryset = queryset.filter(Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, pk__lt=pk))
    rows = list(queryset.order_by("-occurred_at", "-pk")[: limit + 1])
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return TimelinePage(rows[:limit], next_cursor)


def profile_activity_types(*, club, profile) -> list[str]:
    return list(
        Activity.objects.for_club(club)
        .filter(profile=profile)
        .values_list("type", flat=True)
        .distinct()
        .order_by("type")
    )


def profile_search(queryset, *, search: str, club):
    """Staff search: an email, a phone, a member number or a name, each matched the indexed way.

    Emails and phones are normalised first and matched exactly (on the profile or any of its
    identifiers), so "082 123 4567" finds +27821234567. Names match word prefixes.
    """
    from crm.errors import CrmError
    from crm.models import ProfileIdentifier
    from crm.services.identifiers import phone_to_e164

    search = search.strip()
    if "@" in search:
        email = search.lower()
        linked = ProfileIdentifier.objects.for_club(club).filter(kind="email", value=email).values("profile_id")
        return queryset.filter(Q(primary_email=email) | Q(pk__in=linked))
    digits = "".join(ch for ch in search if ch.isdigit())
    if digits and len(digits) >= 7 and not any(ch.isalpha() for ch in search):
        conditions = Q(member_number=search)
        try:
            phone = phone_to_e164(search, region=club.default_phone_region)
        except CrmError:
            return queryset.filter(conditions)
        linked = ProfileIdentifier.objects.for_club(club).filter(kind="phone", value=phone).values("profile_id")
        return queryset.filter(conditions | Q(primary_phone=phone) | Q(pk__in=linked))
    conditions = Q(member_number__iexact=search)
    words = search.split()
    name_match = Q()
    for word in words:
        name_match &= Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
    return queryset.filter(conditions | name_match) if words else queryset.none()
