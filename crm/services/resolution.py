"""Identity resolution for inbound events: which profile is each person an event mentions.

This is the exact-key resolver: strong keys (system ids, handicap id) first, then an email or
phone that exactly one profile holds. `profiles_resolve` is the one entry point processing
calls, so a fuller resolver (name-aware shared keys, probabilistic matching, merges) replaces
this module's internals without touching the pipeline.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from crm.locks import advisory_xact_lock
from crm.models import CustomerProfile, ProfileIdentifier
from crm.models.profiles import SHARED_IDENTIFIER_KINDS


@dataclass
class PersonRef:
    """One person an event mentions: their keys (normalised, strongest first) and when seen."""

    keys: list[tuple[str, str]]
    seen_at: datetime
    source: str
    first_name: str = ""
    last_name: str = ""
    profile_id: int | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def strong_keys(self) -> list[tuple[str, str]]:
        return [key for key in self.keys if key[0] not in SHARED_IDENTIFIER_KINDS]

    @property
    def shared_keys(self) -> list[tuple[str, str]]:
        return [key for key in self.keys if key[0] in SHARED_IDENTIFIER_KINDS]


def profiles_resolve(*, club, refs: list[PersonRef]) -> None:
    """Set `profile_id` on every ref, creating profiles for people not seen before, and link keys.

    Must run inside the caller's transaction. Every key nobody holds yet is locked (advisory,
    per club and key) before anything is decided about it: two workers that both see "nobody has
    contact id C" serialise on C, and the second re-reads and finds the first's profile. Locking
    only the refs that start a new person is not enough: a ref matched by email would link C to
    one profile while another worker creates a second profile for C. Keys that already have an
    owner need no lock, because ownership of a key only moves by a merge. The unique constraint on
    strong keys is the backstop if anything bypasses the locks.
    """
    refs = [ref for ref in refs if ref.keys]
    keys = {key for ref in refs for key in ref.keys}
    owners = _owners(club, keys)
    unowned = [key for key in keys if not owners.get(key)]
    if unowned:
        advisory_xact_lock(f"identity:{club.pk}", [f"{kind}:{value}" for kind, value in unowned])
        owners.update(_owners(club, set(unowned)))
    held = _strong_kinds_held(club, owners)
    still_new = _adopt_within_batch(refs, [ref for ref in refs if not _match(ref, owners, held)])
    _create_profiles(club, still_new)
    _link_keys(club, refs, owners)


def _owners(club, keys) -> dict[tuple[str, str], list[int]]:
    owners: dict[tuple[str, str], list[int]] = defaultdict(list)
    if not keys:
        return owners
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in keys:
        by_kind[kind].append(value)
    condition = Q()
    for kind, values in by_kind.items():
        condition |= Q(kind=kind, value__in=values)
    rows = ProfileIdentifier.objects.for_club(club).filter(condition).values_list("kind", "value", "profile_id")
    for kind, value, profile_id in rows.order_by("profile_id"):
        owners[(kind, value)].append(profile_id)
    return owners


def _strong_kinds_held(club, owners) -> dict[int, set[str]]:
    """For profiles found through an email or phone: which kinds of system id they already hold."""
    candidates = {ids[0] for (kind, _), ids in owners.items() if kind in SHARED_IDENTIFIER_KINDS and len(ids) == 1}
    held: dict[int, set[str]] = defaultdict(set)
    if candidates:
        rows = (
            ProfileIdentifier.objects.for_club(club)
            .filter(profile_id__in=candidates)
            .exclude(kind__in=SHARED_IDENTIFIER_KINDS)
        )
        for profile_id, kind in rows.values_list("profile_id", "kind"):
            held[profile_id].add(kind)
    return held


def _match(ref: PersonRef, owners, held: dict[int, set[str]]) -> bool:
    for key in ref.strong_keys:
        if owners.get(key):
            ref.profile_id = owners[key][0]
            return True
    # An email or phone held by exactly one profile is that person, unless that profile already
    # has another id of a kind this event brings (member M2 is not member M1, however much
    # they share an inbox).
    own_kinds = {kind for kind, _ in ref.strong_keys}
    for key in ref.shared_keys:
        holders = owners.get(key, ())
        if len(holders) == 1 and not own_kinds & held.get(holders[0], set()):
            ref.profile_id = holders[0]
            return True
    return False


def _adopt_within_batch(refs: list[PersonRef], unresolved: list[PersonRef]) -> list[PersonRef]:
    """A ref that shares a system id with a ref already resolved in this batch is that person.

    E.g. Messaging's `contact.created` (contact id + email) matches the SCL profile by email, and
    a `message.sent` in the same batch carries only the contact id: it must follow, not start a
    second profile. Repeats until nothing changes, so chains of shared ids resolve too.
    """
    resolved = {key: ref.profile_id for ref in refs if ref.profile_id for key in ref.strong_keys}
    remaining = unresolved
    while remaining:
        adopted = False
        still = []
        for ref in remaining:
            profile_id = next((resolved[key] for key in ref.strong_keys if key in resolved), None)
            if profile_id is None:
                still.append(ref)
                continue
            ref.profile_id, adopted = profile_id, True
            for key in ref.strong_keys:
                resolved.setdefault(key, profile_id)
        if not adopted:
            break
        remaining = still
    return remaining


def _create_profiles(club, refs: list[PersonRef]) -> None:
    """One new profile per person among refs nobody holds yet, grouped the way `_match` would.

    Refs sharing a system id are one person. A ref joins another group through an email or phone
    only on the terms `_match` uses across batches: exactly one group holds that key, and the two
    don't carry different ids of the same kind (a couple sharing an inbox stays two people), so
    the outcome doesn't depend on whether two events came in one batch or two.
    """
    parent = list(range(len(refs)))
    kinds: dict[int, dict[str, set[str]]] = {}

    def find(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    def union(left: int, right: int) -> None:
        left, right = find(left), find(right)
        if left != right:
            parent[right] = left
            for kind, values in kinds.pop(right, {}).items():
                kinds.setdefault(left, {}).setdefault(kind, set()).update(values)

    def compatible(left: int, right: int) -> bool:
        mine, theirs = kinds.get(find(left), {}), kinds.get(find(right), {})
        return all(mine[kind] == theirs[kind] for kind in mine.keys() & theirs.keys())

    first_holder: dict[tuple[str, str], int] = {}
    for index, ref in enumerate(refs):
        for kind, value in ref.strong_keys:
            kinds.setdefault(index, {}).setdefault(kind, set()).add(value)
    for index, ref in enumerate(refs):
        for key in ref.strong_keys:
            if key in first_holder:
                union(first_holder[key], index)
            else:
                first_holder[key] = index
    shared_holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, ref in enumerate(refs):
        for key in ref.shared_keys:
            holders = {find(holder) for holder in shared_holders[key]} - {find(index)}
            if len(holders) == 1 and compatible(index, next(iter(holders))):
                union(next(iter(holders)), index)
            shared_holders[key].append(index)
    groups: dict[int, list[PersonRef]] = defaultdict(list)
    for index, ref in enumerate(refs):
        groups[find(index)].append(ref)
    profiles = [CustomerProfile(club=club) for _ in groups]
    CustomerProfile.objects.bulk_create(profiles, batch_size=500)
    for profile, members in zip(profiles, groups.values(), strict=True):
        for ref in members:
            ref.profile_id = profile.pk


def _link_keys(club, refs: list[PersonRef], owners) -> None:
    new_links: dict[tuple[str, str, int], ProfileIdentifier] = {}
    strong_claimed: set[tuple[str, str]] = set()
    last_seen: dict[tuple[str, str, int], datetime] = {}
    for ref in refs:
        for kind, value in ref.keys:
            holders = owners.get((kind, value), [])
            link = (kind, value, ref.profile_id)
            if ref.profile_id in holders:
                last_seen[link] = max(last_seen.get(link, ref.seen_at), ref.seen_at)
                continue
            if kind not in SHARED_IDENTIFIER_KINDS and holders:
                ref.warnings.append(
                    f"{kind} {value} belongs to another profile (#{holders[0]}); not linked to #{ref.profile_id}."
                )
                continue
            if link in new_links:
                existing = new_links[link]
                existing.first_seen_at = min(existing.first_seen_at, ref.seen_at)
                existing.last_seen_at = max(existing.last_seen_at, ref.seen_at)
            elif (kind, value) in strong_claimed:
                ref.warnings.append(f"{kind} {value} was given to two people in one batch; kept the first.")
            else:
                if kind not in SHARED_IDENTIFIER_KINDS:
                    strong_claimed.add((kind, value))
                new_links[link] = ProfileIdentifier(
                    club=club,
                    profile_id=ref.profile_id,
                    kind=kind,
                    value=value,
                    source=ref.source,
                    first_seen_at=ref.seen_at,
                    last_seen_at=ref.seen_at,
                )
    ProfileIdentifier.objects.bulk_create(new_links.values(), batch_size=1000, ignore_conflicts=True)
    _refresh_last_seen(club, last_seen)


def _refresh_last_seen(club, last_seen: dict[tuple[str, str, int], datetime]) -> None:
    if not last_seen:
        return
    rows = (
        ProfileIdentifier.objects.for_club(club)
        .filter(profile_id__in={profile_id for _, _, profile_id in last_seen})
        .only("pk", "kind", "value", "profile_id", "last_seen_at")
    )
    stale = []
    for row in rows:
        seen = last_seen.get((row.kind, row.value, row.profile_id))
        if seen and seen > row.last_seen_at:
            row.last_seen_at = seen
            stale.append(row)
    ProfileIdentifier.objects.for_club(club).bulk_update(stale, ["last_seen_at"], batch_size=500)
