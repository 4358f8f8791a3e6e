"""What crm tells the other pillars, without importing them."""

from django.dispatch import Signal

# Sent after commit when something about these profiles changed (processing: new activities, new
# field values; marketing: membership of a hand-picked list): keyword arguments `club` and
# `profile_ids` (sorted). Segments refresh just those people.
profiles_changed = Signal()
