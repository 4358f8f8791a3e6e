from celery import shared_task

from crm.models import Club
from crm.tasks import RETRY_ON_DATABASE_ERRORS
from marketing.models import Segment, SegmentKind
from marketing.services.messaging_sync import segment_sync, segments_sync_all
from marketing.services.segments import (
    segment_refresh,
    segments_refresh_all,
    segments_refresh_dependents,
    segments_refresh_for_profiles,
)


@shared_task(**RETRY_ON_DATABASE_ERRORS)
def refresh_segments_for_profiles(club_id: int, profile_ids: list[int]) -> int:
    """After processing changed these people: bring every rule-based segment up to date for them."""
    club = Club.objects.filter(pk=club_id).first()
    return segments_refresh_for_profiles(club=club, profile_ids=profile_ids) if club else 0


@shared_task(**RETRY_ON_DATABASE_ERRORS)
def refresh_segment(club_id: int, segment_id: int) -> int | None:
    """A full refresh of one segment after its rule was saved, then of the segments built on it;
    its member count."""
    segment = Segment.objects.unscoped_across_clubs().filter(pk=segment_id, club_id=club_id).select_related("club")
    segment = segment.first()
    if segment is None or segment.kind != SegmentKind.DYNAMIC:
        return None
    member_count = segment_refresh(club=segment.club, segment=segment).member_count
    segments_refresh_dependents(club=segment.club, segment=segment)
    return member_count


@shared_task
def refresh_all_segments() -> int:
    return segments_refresh_all()


@shared_task
def sync_segments_to_messaging() -> dict[str, int]:
    """Push every flagged segment's adds and removes to its Messaging list; failures resume next run."""
    return segments_sync_all()


@shared_task
def sync_segment_to_messaging(club_id: int, segment_id: int) -> str:
    """Sync one segment now (e.g. right after a marketer flags it); returns the sync status."""
    club = Club.objects.filter(pk=club_id).first()
    flagged = Segment.objects.for_club(club).filter(pk=segment_id, sync_to_messaging=True) if club else None
    segment = flagged.first() if flagged is not None else None
    return segment_sync(club=club, segment=segment).status if segment else "not flagged for sync"
