"""How every batch sent to Messaging is cut, keyed and addressed: shared by the segment → list
sync and the send ledger, so a retry of either is recognised the same way.

- Batches are cut in profile order, each read after the last one's profile, so a batch cut again
  after a failure has the same content.
- A batch's idempotency key is a hash of what the batch is, so the same batch retried — by another
  process after a restart, too — carries the same key and Messaging replays its answer, while a
  batch whose content changed meanwhile gets a new key instead of a 422 (same key, other body).
- A profile is named to Messaging by its id as `external_id`, with the primary email and phone and
  the Messaging contact id when the CRM knows them.
"""

import hashlib
import json
from collections.abc import Callable, Iterator

from django.db.models import OuterRef

from crm.identity.identifiers import IdentifierKind
from crm.models import ProfileIdentifier


def batches_by_profile(rows, batch_size: int, *, take: Callable | None = None) -> Iterator[list[dict]]:
    """Batches of value rows (each with a `profile_id`) in profile order, each read after the last
    one's profile. `rows` is a queryset, or a callable returning one afresh for each batch (the send
    ledger's due rows depend on the time each batch is read at). `take` turns each batch's sliced
    queryset into its rows (default `list`); the send ledger passes one that claims them in a short
    transaction."""
    take = take or list
    after = 0
    current = rows if callable(rows) else lambda: rows
    while batch := take(current().filter(profile_id__gt=after).order_by("profile_id")[:batch_size]):
        yield batch
        after = batch[-1]["profile_id"]


def idempotency_key(prefix: str, content) -> str:
    """`prefix` plus a digest of `content` (anything JSON can hold): same content, same key."""
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
    return f"{prefix}-{digest[:40]}"


def messaging_contact_id(club, profile_ref: str = "profile"):
    """A subquery for the Messaging contact id of the row's profile (the latest seen), to annotate
    a batch's rows with in the same query that reads them."""
    return (
        ProfileIdentifier.objects.for_club(club)
        .filter(profile=OuterRef(profile_ref), kind=IdentifierKind.MESSAGING_CONTACT_ID)
        .order_by("-last_seen_at")
        .values("value")[:1]
    )


def messaging_contact(row: dict) -> dict:
    """What names a profile to Messaging, from a row holding `profile_id`, `profile__primary_email`,
    `profile__primary_phone` and `contact_id`; empty details are left out."""
    contact = {
        "external_id": str(row["profile_id"]),
        "email": row["profile__primary_email"],
        "phone": row["profile__primary_phone"],
        "contact_id": row["contact_id"],
    }
    return {name: value for name, value in contact.items() if value}
