from celery import shared_task
from django.db import OperationalError

from crm.models import Club
from marketing.services.segments import segments_refresh_all, segments_refresh_for_profiles


@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=2, retry_backoff_max=120, retry_jitter=True, max_retries=8
)
def refresh_segments_for_profiles(club_id: int, profile_ids: list[int]) -> int:
    """After processing changed these people: bring every rule-based segment up to date for them."""
    club = Club.objects.filter(pk=club_id).first()
    return segments_refresh_for_profiles(club=club, profile_ids=profile_ids) if club else 0


@shared_task
def refresh_all_segments() -> int:
    return segments_refresh_all()
