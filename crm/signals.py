"""What crm tells the other pillars, without importing them."""

from django.dispatch import Signal

# Sent after commit when processing has changed profiles (new activities, new field values):
# keyword arguments `club` and `profile_ids` (sorted). Segments refresh just those people.
profiles_changed = Signal()
