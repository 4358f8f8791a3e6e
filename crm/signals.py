"""What crm tells the other pillars, without importing them."""

from django.db import transaction
from django.dispatch import Signal

# Sent after commit when something about these profiles changed (processing: new activities, new
# field values; marketing: membership of a hand-picked list): keyword arguments `club` and
# `profile_ids` (sorted). Segments refresh just those people.
profiles_changed = Signal()


def profiles_changed_after_commit(club, profile_ids) -> None:
    """Announce these profiles once the current transaction commits (nothing if there are none).
    Robust: a listener that fails (its broker is down) is logged; the change itself stands."""
    ids = sorted(set(profile_ids))
    if ids:
        transaction.on_commit(lambda: profiles_changed.send(sender=None, club=club, profile_ids=ids), robust=True)
