"""Reads for the segment pages and API (SPEC 8): the club's segments, members pages and the
entered/left chart."""

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from crm.kernel.pagination import keyset_page
from marketing.models import Segment, SegmentChange, SegmentChangeKind, SegmentMember

MEMBER_ORDERING = ("-entered_at", "-id")


def segments_in_order(*, club):
    """The club's segments by name (pk breaks ties between equal names), as the list pages and the API show them."""
    return Segment.objects.for_club(club).order_by("name", "pk")


@dataclass(frozen=True)
class DailyChange:
    day: date
    entered: int
    exited: int


def segment_daily_changes(*, club, segment, days: int = 30, now=None) -> list[DailyChange]:
    """Entered and left per day (the club's days) for the last `days` days, oldest first, with the
    quiet days included so a chart's bars line up with the calendar. One grouped query."""
    tz = zoneinfo.ZoneInfo(club.timezone)
    today = (now or timezone.now()).astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    rows = (
        SegmentChange.objects.for_club(club)
        .filter(segment=segment, at__gte=datetime.combine(first, time.min, tzinfo=tz))
        .annotate(day=TruncDate("at", tzinfo=tz))
        .values("day")
        .annotate(
            entered=Count("id", filter=Q(change=SegmentChangeKind.ENTERED)),
            exited=Count("id", filter=Q(change=SegmentChangeKind.EXITED)),
        )
    )
    by_day = {row["day"]: row for row in rows}
    return [
        DailyChange(day, by_day.get(day, {}).get("entered", 0), by_day.get(day, {}).get("exited", 0))
        for day in (first + timedelta(days=offset) for offset in range(days))
    ]


def segment_members_page(*, club, segment, cursor: str | None, limit: int):
    """Members newest first, with their profiles, one keyset page (raises InvalidCursor)."""
    rows = SegmentMember.objects.for_club(club).filter(segment=segment).select_related("profile")
    return keyset_page(rows, ordering=MEMBER_ORDERING, cursor=cursor, limit=limit)


def segments_of_profiles(*, club, profile_ids) -> dict[int, list[Segment]]:
    """The segments each of `profile_ids` is in now, by name: one query for a whole page of profiles
    (a profile in none is absent)."""
    memberships = (
        SegmentMember.objects.for_club(club)
        .filter(profile_id__in=profile_ids)
        .select_related("segment")
        .order_by("segment__name", "segment_id")
    )
    by_profile: dict[int, list[Segment]] = {}
    for membership in memberships:
        by_profile.setdefault(membership.profile_id, []).append(membership.segment)
    return by_profile
