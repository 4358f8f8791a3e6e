"""Identity resolution: which profile is each person an event or import row mentions (SPEC 5).

`profiles_resolve` is the one entry point; the event pipeline and the backfill import both call
it with a batch of `PersonRef`s, inside their transaction. In order:

1. Junk values (`test@test.com`, `0000000000`, `null`) are dropped with a warning.
2. Strong keys (system ids, handicap id): an exact match is the same person. If a ref's strong
   keys point at two profiles, and those don't hold different ids of one kind, they are merged.
3. Shared keys (email, phone): an exact match joins only a profile whose names (and birthday)
   are compatible and which holds no different id of a kind the ref brings, and only while the
   key is not a busy family/office inbox. A ref whose strong key found one profile and whose
   email found another compatible one links the two: they are merged.
4. Probabilistic: for the rest, candidates by blocking (surname sound + initial, swapped names,
   date of birth), scored by `matching.match_score`; at or above the club's auto-merge threshold
   it is the same person, between the thresholds a new profile plus a merge suggestion for staff.
5. New people get one profile per group of refs that are one person within the batch.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Q

from crm.errors import CrmError
from crm.identity import matching
from crm.identity.identifiers import SHARED_IDENTIFIER_KINDS
from crm.identity.matching import MatchPolicy, PersonFacts
from crm.kernel.actor import Actor
from crm.kernel.locks import advisory_xact_lock
from crm.models import CustomerProfile, MergeReason, MergeSuggestion, ProfileIdentifier, SuggestionStatus
from crm.services.merges import profiles_merge


@dataclass
class PersonRef:
    """One person an event or row mentions: their keys (normalised, strongest first) and facts."""

    keys: list[tuple[str, str]]
    seen_at: datetime
    source: str
    first_name: str = ""
    last_name: str = ""
    date_of_birth: date | None = None
    postcode: str = ""
    profile_id: int | None = None
    outcome: str = ""  # matched | created | merged | suggested (the import's reconciliation)
    warnings: list[str] = field(default_factory=list)
    suggestions: list[tuple[int, float, dict]] = field(default_factory=list)

    @property
    def strong_keys(self) -> list[tuple[str, str]]:
        return [key for key in self.keys if key[0] not in SHARED_IDENTIFIER_KINDS]

    @property
    def shared_keys(self) -> list[tuple[str, str]]:
        return [key for key in self.keys if key[0] in SHARED_IDENTIFIER_KINDS]

    def facts(self) -> PersonFacts:
        return PersonFacts(
            first_name=self.first_name,
            last_name=self.last_name,
            date_of_birth=self.date_of_birth,
            postcode=self.postcode,
            emails=frozenset(value for kind, value in self.keys if kind == "email"),
            phones=frozenset(value for kind, value in self.keys if kind == "phone"),
            # The first value of a kind wins. Legacy ids never conflict: one person often had
            # several records in the old system, which is what the backfill is here to join.
            strong=dict(reversed([key for key in self.strong_keys if key[0] != "legacy_id"])),
        )


def profiles_resolve(*, club, refs: list[PersonRef], merge_reason: str = MergeReason.EVENT) -> None:
    """Set `profile_id` (and `outcome`) on every ref, creating and merging profiles as needed.

    Must run inside the caller's transaction. Every key nobody holds yet is locked (advisory,
    per club and key) before anything is decided about it: two workers that both see "nobody has
    contact id C" serialise on C, and the second re-reads and finds the first's profile. Locking
    only the refs that start a new person is not enough: a ref matched by email would link C to
    one profile while another worker creates a second profile for C. Keys that already have an
    owner need no lock: ownership only moves by a merge, which locks the profiles' rows. The
    unique constraint on strong keys is the backstop if anything bypasses the locks.
    """
    policy = MatchPolicy.for_club(club)
    for ref in refs:
        _drop_blocked(ref, policy)
    refs = [ref for ref in refs if ref.keys]
    keys = {key for ref in refs for key in ref.keys}
    owners = _owners(club, keys)
    unowned = [key for key in keys if not owners.get(key)]
    if unowned:
        advisory_xact_lock(f"identity:{club.pk}", [f"{kind}:{value}" for kind, value in unowned])
        owners.update(_owners(club, set(unowned)))
    facts = _profile_facts(club, {profile_id for ids in owners.values() for profile_id in ids})

    merges: list[tuple[int, int, PersonRef]] = []
    unresolved = [ref for ref in refs if not _match_exact(ref, owners, facts, policy, merges)]
    unresolved = _adopt_within_batch(refs, unresolved)
    unresolved = _match_probable(club, unresolved, policy)
    _create_profiles(club, unresolved, policy)
    if merges:
        _apply_merges(club, merges, refs, merge_reason)
        owners = _owners(club, keys)  # identifiers moved to the survivors
    _link_keys(club, refs, owners, policy)
    _record_suggestions(club, refs)


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


def _drop_blocked(ref: PersonRef, policy: MatchPolicy) -> None:
    kept = []
    for kind, value in ref.keys:
        if matching.is_blocked(kind, value, policy.blocked_values):
            ref.warnings.append(f"{kind} {value!r} is a placeholder value; not used to identify anyone.")
        else:
            kept.append((kind, value))
    ref.keys = kept


def _profile_facts(club, profile_ids) -> dict[int, PersonFacts]:
    """Names, birthday, postcode and system ids of the given profiles: two queries."""
    if not profile_ids:
        return {}
    facts = {
        pk: PersonFacts(first_name=first, last_name=last, date_of_birth=born, postcode=postcode or "")
        for pk, first, last, born, postcode in CustomerProfile.objects.for_club(club)
        .filter(pk__in=profile_ids)
        .values_list("pk", "first_name", "last_name", "date_of_birth", "postcode")
    }
    for profile_id, strong in _strong_ids(club, facts).items():
        facts[profile_id].strong.update(strong)
    return facts


def _match_exact(ref: PersonRef, owners, facts: dict[int, PersonFacts], policy: MatchPolicy, merges) -> bool:
    """Strong keys, then name-compatible shared keys; queues the merges a ref proves."""
    mine = ref.facts()
    strong_owners = list(dict.fromkeys(owners[key][0] for key in ref.strong_keys if owners.get(key)))
    target = strong_owners[0] if strong_owners else None
    for other in strong_owners[1:]:
        if matching.strong_conflict(facts.get(target, PersonFacts()), facts.get(other, PersonFacts())):
            ref.warnings.append(f"Its ids point at #{target} and #{other}, who hold different system ids; not merged.")
        else:
            merges.append((target, other, ref))

    found: list[int] = []
    for key in ref.shared_keys:
        holders = [holder for holder in owners.get(key, []) if holder != target]
        if len(owners.get(key, [])) > policy.max_profiles_per_shared_key:
            ref.warnings.append(f"{key[0]} {key[1]} is shared by many profiles; not used to match.")
            continue
        compatible = [
            holder
            for holder in holders
            if holder in facts
            and matching.names_compatible(mine, facts[holder])
            and not matching.strong_conflict(mine, facts[holder])
            and (
                target is None
                or (
                    matching.names_compatible(facts.get(target, PersonFacts()), facts[holder])
                    and not matching.strong_conflict(facts.get(target, PersonFacts()), facts[holder])
                )
            )
        ]
        if len(compatible) == 1 and compatible[0] not in found:
            found.append(compatible[0])
    if target is None and found:
        target, found = found[0], found[1:]
    for other in found:
        if not matching.strong_conflict(facts.get(target, PersonFacts()), facts[other]):
            merges.append((target, other, ref))
    ref.profile_id = target
    if target:
        ref.outcome = "matched"
    return target is not None


def _match_probable(club, refs: list[PersonRef], policy: MatchPolicy) -> list[PersonRef]:
    """Score refs nobody's keys matched against candidates from the blocking passes."""
    named = [ref for ref in refs if ref.first_name and ref.last_name]
    if not named:
        return refs
    name_keys, births = set(), set()
    for ref in named:
        name_keys.add(matching.name_key(ref.first_name, ref.last_name))
        name_keys.add(matching.name_key(ref.last_name, ref.first_name))  # first and last swapped
        if ref.date_of_birth:
            births.add(ref.date_of_birth)
    condition = Q(name_key__in=name_keys - {""})
    if births:
        condition |= Q(date_of_birth__in=births)
    rows = (
        CustomerProfile.objects.for_club(club)
        .filter(condition, merged_into__isnull=True, is_erased=False)
        .values_list(
            "pk", "first_name", "last_name", "date_of_birth", "postcode", "primary_email", "primary_phone", "name_key"
        )
    )
    by_block: dict[object, list[int]] = defaultdict(list)
    candidates: dict[int, PersonFacts] = {}
    for pk, first, last, born, postcode, email, phone, key in rows:
        candidates[pk] = PersonFacts(
            first_name=first,
            last_name=last,
            date_of_birth=born,
            postcode=postcode or "",
            emails=frozenset({email}) if email else frozenset(),
            phones=frozenset({phone}) if phone else frozenset(),
        )
        by_block[("name", key)].append(pk)
        if born:
            by_block[("born", born)].append(pk)
    if candidates:
        for pk, strong in _strong_ids(club, candidates).items():
            candidates[pk].strong.update(strong)
    for ref in named:
        mine = ref.facts()
        pool = set(by_block[("name", matching.name_key(ref.first_name, ref.last_name))])
        pool |= set(by_block[("name", matching.name_key(ref.last_name, ref.first_name))])
        if ref.date_of_birth:
            pool |= set(by_block[("born", ref.date_of_birth)])
        scored = sorted(
            ((matching.match_score(mine, candidates[pk]), pk) for pk in pool),
            key=lambda item: (-item[0].score, item[1]),
        )
        if scored and scored[0][0].score >= policy.auto_merge:
            ref.profile_id, ref.outcome = scored[0][1], "matched"
            continue
        ref.suggestions = [
            (pk, result.score, result.evidence) for result, pk in scored[:3] if result.score >= policy.review
        ]
    return [ref for ref in refs if not ref.profile_id]


def _strong_ids(club, profile_ids) -> dict[int, dict[str, str]]:
    """Each profile's system ids (one per kind). Legacy ids never conflict, so they don't count."""
    held: dict[int, dict[str, str]] = defaultdict(dict)
    rows = (
        ProfileIdentifier.objects.for_club(club)
        .filter(profile_id__in=list(profile_ids))
        .exclude(kind__in=[*SHARED_IDENTIFIER_KINDS, "legacy_id"])
        .values_list("profile_id", "kind", "value")
    )
    for profile_id, kind, value in rows:
        held[profile_id].setdefault(kind, value)
    return held


def _apply_merges(club, merges, refs: list[PersonRef], reason: str) -> None:
    survivor_of: dict[int, int] = {}

    def live(profile_id: int) -> int:
        while profile_id in survivor_of:
            profile_id = survivor_of[profile_id]
        return profile_id

    # Staff rejected these pairs (or undid their merge): an event must not join them again.
    candidates = {(min(first, second), max(first, second)) for first, second, _ in merges}
    refused = set(
        MergeSuggestion.objects.for_club(club)
        .filter(
            status=SuggestionStatus.REJECTED,
            profile_a_id__in={pair[0] for pair in candidates},
            profile_b_id__in={pair[1] for pair in candidates},
        )
        .values_list("profile_a_id", "profile_b_id")
    )
    for first, second, ref in merges:
        first, second = live(first), live(second)
        if first == second:
            continue
        if (min(first, second), max(first, second)) in refused:
            ref.warnings.append(f"#{first} and #{second} were marked as two people by staff; not merged.")
            continue
        try:
            record = profiles_merge(club=club, actor=Actor.system(), first_id=first, second_id=second, reason=reason)
        except CrmError as error:
            ref.warnings.append(f"Not merged: {error.message}")
            continue
        if record:
            survivor_of[record.merged_id] = record.survivor_id
            ref.outcome = "merged"
    for ref in refs:
        if ref.profile_id:
            ref.profile_id = live(ref.profile_id)


def _record_suggestions(club, refs: list[PersonRef]) -> None:
    rows = {}
    for ref in refs:
        for other, score, evidence in ref.suggestions:
            if other == ref.profile_id or not ref.profile_id:
                continue
            pair = (min(ref.profile_id, other), max(ref.profile_id, other))
            rows[pair] = MergeSuggestion(
                club=club, profile_a_id=pair[0], profile_b_id=pair[1], score=score, evidence=evidence
            )
            if ref.outcome == "created":
                ref.outcome = "suggested"
    # A pair already decided (or already suggested) is never suggested again.
    MergeSuggestion.objects.bulk_create(rows.values(), ignore_conflicts=True)


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
            ref.profile_id, ref.outcome, adopted = profile_id, "matched", True
            for key in ref.strong_keys:
                resolved.setdefault(key, profile_id)
        if not adopted:
            break
        remaining = still
    return remaining


def _create_profiles(club, refs: list[PersonRef], policy: MatchPolicy) -> None:
    """One new profile per person among refs nobody holds yet, grouped the way matching would.

    Refs sharing a system id are one person. A ref joins another group through an email or phone
    on the terms `_match_exact` uses across batches (exactly one group holds the key, names
    compatible, no different ids of one kind), and through a probabilistic score at or above the
    auto-merge threshold, so the outcome doesn't depend on whether two records came in one batch.
    """
    if not refs:
        return
    parent = list(range(len(refs)))
    facts = [ref.facts() for ref in refs]

    def find(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    members: dict[int, list[int]] = {index: [index] for index in range(len(refs))}

    def union(left: int, right: int) -> None:
        left, right = find(left), find(right)
        if left != right:
            parent[right] = left
            members[left].extend(members.pop(right))

    def compatible(left: int, right: int) -> bool:
        return all(
            not matching.strong_conflict(facts[mine], facts[theirs])
            and matching.names_compatible(facts[mine], facts[theirs])
            for mine in members[find(left)]
            for theirs in members[find(right)]
        )

    first_holder: dict[tuple[str, str], int] = {}
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

    review_pairs = []
    blocks: dict[object, list[int]] = defaultdict(list)
    for index, ref in enumerate(refs):
        if ref.first_name and ref.last_name:
            blocks[("name", matching.name_key(ref.first_name, ref.last_name))].append(index)
            if ref.date_of_birth:
                blocks[("born", ref.date_of_birth)].append(index)
    scored_pairs = set()
    for block in blocks.values():
        for position, left in enumerate(block):
            for right in block[position + 1 :]:
                if (left, right) in scored_pairs or find(left) == find(right):
                    continue
                scored_pairs.add((left, right))
                result = matching.match_score(facts[left], facts[right])
                if result.score >= policy.auto_merge and all(
                    not matching.strong_conflict(facts[mine], facts[theirs])
                    for mine in members[find(left)]
                    for theirs in members[find(right)]
                ):
                    union(left, right)
                elif result.score >= policy.review:
                    review_pairs.append((left, right, result))

    groups: dict[int, list[PersonRef]] = defaultdict(list)
    for index, ref in enumerate(refs):
        groups[find(index)].append(ref)
    profiles = [CustomerProfile(club=club) for _ in groups]
    CustomerProfile.objects.bulk_create(profiles, batch_size=500)
    for profile, group in zip(profiles, groups.values(), strict=True):
        for position, ref in enumerate(group):
            ref.profile_id = profile.pk
            ref.outcome = "created" if position == 0 else "matched"
    for left, right, result in review_pairs:
        if refs[left].profile_id != refs[right].profile_id:
            refs[left].suggestions.append((refs[right].profile_id, result.score, result.evidence))


def _link_keys(club, refs: list[PersonRef], owners, policy: MatchPolicy) -> None:
    new_links: dict[tuple[str, str, int], ProfileIdentifier] = {}
    strong_claimed: set[tuple[str, str]] = set()
    last_seen: dict[tuple[str, str, int], datetime] = {}
    # Limits per kind keep one profile from swallowing a household or an office (a mega profile).
    limits = {"email": policy.max_emails_per_profile, "phone": policy.max_phones_per_profile}
    held = defaultdict(int)
    for profile_id, kind in (
        ProfileIdentifier.objects.for_club(club)
        .filter(profile_id__in={ref.profile_id for ref in refs}, kind__in=list(limits))
        .values_list("profile_id", "kind")
    ):
        held[(profile_id, kind)] += 1
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
            elif kind in limits and held[(ref.profile_id, kind)] >= limits[kind]:
                ref.warnings.append(f"#{ref.profile_id} already has {limits[kind]} {kind} values; {value} not linked.")
            else:
                if kind in limits:
                    held[(ref.profile_id, kind)] += 1
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
