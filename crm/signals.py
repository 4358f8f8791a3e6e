"""What crm tells the other pillars, without importing them."""

from django.db import transaction
from django.dispatch import Signal

# Sent after commit when something about these profiles changed, with keyword arguments `club` and
# `profile_ids` (sorted). Senders: event processing (new activities, new field values), merges and
# their undo, tagging and untagging, staff profile edits (crm.services.profiles), and marketing's
# hand-picked lists. Receiver: marketing.receivers, which refreshes just those people's segments.
profiles_changed = Signal()


def profiles_changed_after_commit(club, profile_ids) -> None:
    """Announce these profiles once the current transaction commits (nothing if there are none).
    Robust: a listener that fails (its broker is down) is logged; the change itself stands."""
    ids = sorted(set(profile_ids))
    if ids:
        transaction.on_commit(lambda: profiles_changed.send(sender=None, club=club, profile_ids=ids), robust=True)
