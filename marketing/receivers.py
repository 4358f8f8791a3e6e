"""marketing listens to crm: changed profiles queue an incremental segment refresh."""

from django.dispatch import receiver

from crm.signals import profiles_changed
from marketing.tasks import refresh_segments_for_profiles


@receiver(profiles_changed)
def refresh_segments_of_changed_profiles(sender, club, profile_ids, **kwargs):
    refresh_segments_for_profiles.delay(club.pk, list(profile_ids))
