"""The build: plan the people, then each table generated and COPYed by --workers processes."""

import math
import multiprocessing
import random
import sys
import time
from datetime import timedelta
from operator import itemgetter

from django.db import connection, connections, transaction

from benchmarks.dataset.generation import (
    BLOCK,
    CLUB_TIMEZONE,
    CONTACT,
    COURSES,
    DAY,
    DOMAINS,
    EMAIL_OPT,
    FINAL_TYPES,
    FIRST_NAMES,
    GOLFER,
    HANDICAPS,
    KIND_BUSYNESS,
    KIND_CUM,
    LAPSED,
    LAST_NAMES,
    LIFECYCLE_OFFSET,
    MEMBER,
    MEMBER_ID,
    MIXES,
    MOBILE_PREFIXES,
    PAYS,
    PROSPECT,
    RESIGNED,
    ROUND_SHARE,
    SKEW_CAP,
    SKEW_SIGMA,
    SMS_OPT,
    TAGS,
    TIER_CUM,
    TIERS,
    VISITOR,
    WINDOW,
    ActivityWriter,
    birthday,
    day_of,
    email_of,
    identifier_count,
    lifecycle_types,
    mix_key,
    phone_of,
    stamper,
    zeros,
)
from benchmarks.dataset.loading import (
    ACTIVITY_COLUMNS,
    IDENTIFIER_COLUMNS,
    PROFILE_COLUMNS,
    PROFILE_TAG_COLUMNS,
    JsonText,
    JsonTextBinaryDumper,
    Progress,
    club_delete,
    column_types,
    reserve_ids,
    timing,
    with_defaults,
)
from crm.identity.matching import name_key
from crm.models import Activity, Club, CustomerProfile, ProfileIdentifier, ProfileTag, Tag


class Builder:
    def __init__(self, options):
        self.options = options
        self.rng = random.Random(options.seed)
        self.now = time.time() // 60 * 60
        self.timings: list[dict] = []

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> dict:
        options = self.options
        started = time.perf_counter()
        self.club = self.club_create(options.club, replace=options.replace)

        print(f"Planning {options.profiles:,} people and {options.activities:,} activities …", flush=True)
        step = time.perf_counter()
        self.plan(options.profiles, options.activities)
        self.timings.append(timing("plan (in memory, no rows)", 0, time.perf_counter() - step))

        self.first_id = reserve_ids(CustomerProfile, options.profiles)
        self.copy(CustomerProfile, PROFILE_COLUMNS, self.profile_rows, options.profiles)
        self.copy(ProfileIdentifier, IDENTIFIER_COLUMNS, self.identifier_rows, self.identifier_total)
        self.tag_ids = self.tags_create()
        self.copy(ProfileTag, PROFILE_TAG_COLUMNS, self.profile_tag_rows, None)
        self.copy(Activity, ACTIVITY_COLUMNS, self.activity_rows, options.activities)

        if options.skip_fk_checks:
            self.references_verify()

        print("ANALYZE …", flush=True)
        step = time.perf_counter()
        tables = [model._meta.db_table for model in (CustomerProfile, ProfileIdentifier, Tag, ProfileTag, Activity)]
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(tables)}")
        self.timings.append(timing("ANALYZE", 0, time.perf_counter() - step))

        total_seconds = time.perf_counter() - started
        rows = sum(row["rows"] for row in self.timings)
        return {
            "club": self.club.slug,
            "club_id": self.club.pk,
            "seed": options.seed,
            "profiles": options.profiles,
            "activities": options.activities,
            "first_profile_id": self.first_id,
            "workers": options.workers,
            "fk_checks": "verified in bulk after loading" if options.skip_fk_checks else "row by row",
            "tables": self.timings,
            "total_rows": rows,
            "total_seconds": total_seconds,
            "rows_per_second": rows / total_seconds if total_seconds else 0.0,
        }

    # --- club ------------------------------------------------------------------------------

    def club_create(self, slug: str, *, replace: bool) -> Club:
        existing = Club.objects.filter(slug=slug).first()
        if existing and not replace:
            sys.exit(
                f"Club '{slug}' already exists (#{existing.pk}): pass --replace to delete it and its data "
                "and build it again, or choose another --club."
            )
        if existing:
            print(f"Deleting club '{slug}' (#{existing.pk}) and everything in it …", flush=True)
            step = time.perf_counter()
            deleted = club_delete(existing)
            self.timings.append(
                timing(f"--replace: delete the old club ({deleted:,} rows)", 0, time.perf_counter() - step)
            )
        name = f"{slug.replace('-', ' ').title()} Golf Club"
        club = Club.objects.create(
            slug=slug, name=name, country="ZA", default_phone_region="ZA", timezone=CLUB_TIMEZONE, currency="ZAR"
        )
        print(f"Club '{slug}' is #{club.pk}.", flush=True)
        return club

    def tags_create(self) -> list[int]:
        tags = Tag.objects.bulk_create([Tag(club=self.club, name=name, color=color) for name, color in TAGS])
        self.timings.append(timing(Tag._meta.db_table, len(tags), 0.0))
        return [tag.pk for tag in tags]

    # --- the plan: a few compact facts per person, everything else is drawn while streaming ----

    def plan(self, people: int, activities: int) -> None:
        rng, now = self.rng, self.now
        self.first_name = zeros("H", people)  # index into FIRST_NAMES
        self.last_name = zeros("H", people)
        self.domain = zeros("B", people)
        self.kind = zeros("B", people)
        self.tier = zeros("B", people)  # index into TIERS + 1; 0 = none
        self.flags = zeros("B", people)
        self.phone = zeros("Q", people)  # national number, 0 = none
        self.handicap = zeros("H", people)  # tenths
        self.start = zeros("d", people)  # first seen (epoch seconds)
        self.end = zeros("d", people)  # last active
        self.count = zeros("I", people)  # activities
        self.rounds = zeros("I", people)  # of which round.completed
        self.last_round = zeros("d", people)
        weights = zeros("d", people)
        kinds, tier_names = range(5), range(len(TIERS))
        random_, choices, randrange = rng.random, rng.choices, rng.randrange

        for i in range(people):
            kind = choices(kinds, cum_weights=KIND_CUM)[0]
            flags, tier = 0, 0
            if kind in (MEMBER, LAPSED, RESIGNED):
                flags |= MEMBER_ID | PAYS
                tier = choices(tier_names, cum_weights=TIER_CUM)[0] + 1
            elif kind == PROSPECT and random_() < 0.3:
                flags |= MEMBER_ID  # an enquiry SCL registered
            if kind != PROSPECT and (not tier or TIERS[tier - 1] != "Social"):
                flags |= GOLFER
                self.handicap[i] = randrange(0, 361)
            if kind != VISITOR or random_() < 0.4:
                flags |= CONTACT
                flags |= EMAIL_OPT if random_() < 0.82 else 0
                flags |= SMS_OPT if random_() < 0.45 else 0
            self.kind[i], self.tier[i], self.flags[i] = kind, tier, flags
            self.first_name[i] = randrange(len(FIRST_NAMES))
            self.domain[i] = randrange(len(DOMAINS))
            if i and random_() < 0.04:  # a spouse: same surname and home phone as the previous person
                self.last_name[i], self.phone[i] = self.last_name[i - 1], self.phone[i - 1]
            else:
                self.last_name[i] = randrange(len(LAST_NAMES))
                if kind != PROSPECT or random_() < 0.5:
                    prefix = MOBILE_PREFIXES[randrange(len(MOBILE_PREFIXES))]
                    self.phone[i] = prefix * 10_000_000 + randrange(10_000_000)
            if kind == PROSPECT:
                start = now - random_() * WINDOW / 2
            elif kind == VISITOR:
                start = now - random_() * WINDOW
            else:
                start = now - WINDOW * (0.15 + 0.85 * random_() ** 0.5)  # most members were there from the start
            end = now - random_() * 3 * DAY
            if kind in (LAPSED, RESIGNED):
                end = max(start + DAY, now - (30 + random_() * 370) * DAY)
            self.start[i], self.end[i] = start, end
            weights[i] = KIND_BUSYNESS[kind] * rng.lognormvariate(0.0, SKEW_SIGMA)

        # Share the activities out in proportion to the (capped) weights, exactly: cumulative rounding.
        cap = SKEW_CAP * math.fsum(weights) / people
        base = 1 if activities >= people else 0  # everyone the pipeline knows came with an event
        spread = activities - base * people
        total = 0.0
        for i in range(people):
            total += min(weights[i], cap)
        running, given = 0.0, 0
        for i in range(people):
            running += min(weights[i], cap)
            upto = spread if i == people - 1 else min(spread, int(spread * running / total + 0.5))
            count = base + upto - given
            given = upto
            self.count[i] = count
            recurring = count - len(lifecycle_types(self.kind[i], self.flags[i]))
            if self.flags[i] & GOLFER and recurring > 0:
                rounds = int(recurring * ROUND_SHARE[mix_key(self.flags[i])] + random_())
                self.rounds[i] = rounds
                if rounds:
                    latest = self.end[i] - rng.expovariate(1 / (20 * DAY))
                    self.last_round[i] = max(latest, self.start[i] + 3600)
        self.identifier_total = sum(identifier_count(self.flags[i], self.phone[i]) for i in range(people))

    def blocks(self, part: int, parts: int, stream: str):
        """This part's blocks of BLOCK people, each with a random stream of its own: what is written
        depends on --seed, not on how many workers write it."""
        people = len(self.kind)
        for start in range(part * BLOCK, people, parts * BLOCK):
            yield range(start, min(start + BLOCK, people)), random.Random(f"{self.options.seed}:{stream}:{start}")

    # --- profiles ----------------------------------------------------------------------------

    def profile_rows(self, part: int, parts: int):
        club_id, first_id = self.club.pk, self.first_id
        today = day_of(self.now)
        keys: dict[tuple[int, int], str] = {}
        stamp = stamper()
        for people, rng in self.blocks(part, parts, "profiles"):
            yield from self._profile_block(people, rng, club_id, first_id, today, keys, stamp)

    def _profile_block(self, people: range, rng: random.Random, club_id, first_id, today, keys, stamp):
        random_, randrange = rng.random, rng.randrange
        for i in people:
            kind, flags, tier = self.kind[i], self.flags[i], self.tier[i]
            first, last = FIRST_NAMES[self.first_name[i]], LAST_NAMES[self.last_name[i]]
            key = keys.get((self.first_name[i], self.last_name[i]))
            if key is None:
                key = keys[self.first_name[i], self.last_name[i]] = name_key(first, last)
            start, end = self.start[i], self.end[i]
            member = flags & PAYS  # a member once: member, lapsed or resigned
            joined = renewal = lapsed = None
            status = ""
            if member:
                joined = today - timedelta(days=200 + randrange(4800))
                status = ("active", "lapsed", "resigned")[min(kind, 2)]
                if kind == MEMBER:
                    status = "suspended" if random_() < 0.01 else status
                    renewal = today + timedelta(days=1 + randrange(365))
                elif kind == LAPSED:
                    lapsed = day_of(end)
            elif flags & MEMBER_ID:
                status = "prospect"
            golfer = flags & GOLFER
            contact = flags & CONTACT
            last_round = self.last_round[i]
            yield (
                first_id + i,
                club_id,
                first,
                last,
                email_of(i, self.first_name[i], self.last_name[i], self.domain[i]),
                phone_of(self.phone[i]),
                birthday(rng) if kind != VISITOR or random_() < 0.3 else None,
                ("male", "female", "female", "male", "", "")[randrange(6)] if random_() < 0.97 else "undisclosed",
                f"{1000 + randrange(9000):04d}" if member or random_() < 0.3 else "",
                "ZA",
                "en-ZA",
                CLUB_TIMEZONE,
                f"{i + 1:07d}" if member else "",
                status,
                TIERS[tier - 1] if tier else "",
                joined,
                renewal,
                lapsed,
                HANDICAPS[self.handicap[i]] if golfer else None,
                COURSES[0] if golfer else "",
                self.rounds[i],
                stamp(last_round) if last_round else None,
                bool(flags & EMAIL_OPT),
                bool(flags & SMS_OPT),
                False,
                False,
                stamp(start + LIFECYCLE_OFFSET["consent.updated"]) if contact else None,
                "new",
                "{}",
                "{}",
                key,
                False,
                stamp(start),
                stamp(max(start, end - random_() * 7 * DAY)),
            )

    # --- identifiers and tags ---------------------------------------------------------------

    def identifier_rows(self, part: int, parts: int):
        club_id, first_id = self.club.pk, self.first_id
        stamp = stamper()
        for i in (i for people, _ in self.blocks(part, parts, "identifiers") for i in people):
            flags, pid = self.flags[i], first_id + i
            seen, last_seen = stamp(self.start[i]), stamp(self.end[i])
            person_source = "scl" if flags & MEMBER_ID else ("messaging" if flags & CONTACT else "teetime")
            email = email_of(i, self.first_name[i], self.last_name[i], self.domain[i])
            yield (club_id, pid, "email", email, person_source, seen, last_seen)
            if self.phone[i]:
                yield (club_id, pid, "phone", phone_of(self.phone[i]), person_source, seen, last_seen)
            if flags & MEMBER_ID:
                yield (club_id, pid, "scl_member_id", f"SCL{100000 + i}", "scl", seen, last_seen)
            if flags & GOLFER:
                yield (club_id, pid, "teetime_player_id", f"TT-{500000 + i}", "teetime", seen, last_seen)
                if flags & PAYS:
                    yield (club_id, pid, "handicap_id", f"HNA{7000000 + i}", "scl", seen, last_seen)
            if flags & CONTACT:
                yield (club_id, pid, "messaging_contact_id", f"MSG-{900000 + i}", "messaging", seen, last_seen)

    def profile_tag_rows(self, part: int, parts: int):
        club_id, first_id, tag_ids = self.club.pk, self.first_id, self.tag_ids
        stamp = stamper()
        for people, rng in self.blocks(part, parts, "tags"):
            for i in people:
                if rng.random() < 0.12:
                    for tag_id in rng.sample(tag_ids, 1 + (rng.random() < 0.3)):
                        at = self.start[i] + rng.random() * (self.end[i] - self.start[i])
                        yield (club_id, first_id + i, tag_id, stamp(at))

    # --- activities --------------------------------------------------------------------------

    def activity_rows(self, part: int, parts: int):
        """Profile by profile in blocks of BLOCK, each block written in time order, so a person's
        timeline is spread over the heap as ingestion would leave it, not stored contiguously."""
        club_id, first_id = self.club.pk, self.first_id
        stamp = stamper()
        writer = ActivityWriter(self.club, self.now)
        for people, rng in self.blocks(part, parts, "activities"):
            writer.rng, random_ = rng, rng.random
            rows = []
            for i in people:
                count = self.count[i]
                if not count:
                    continue
                kind, flags, tier = self.kind[i], self.flags[i], self.tier[i]
                pid = first_id + i
                start, end = self.start[i], self.end[i]
                span = end - start
                fixed = lifecycle_types(kind, flags)
                for source, type_name in fixed[:count]:
                    at = end if type_name in FINAL_TYPES else start + LIFECYCLE_OFFSET[type_name]
                    person = (kind, tier, flags, self.handicap[i])
                    rows.append((at, pid, source, type_name, *writer.lifecycle(type_name, at, *person)))
                recurring = count - min(count, len(fixed))
                rounds = self.rounds[i]
                if rounds:
                    last_round = self.last_round[i]
                    rows.append((last_round, pid, "teetime", "round.completed", *writer.round()))
                    for _ in range(rounds - 1):
                        at = start + random_() * (last_round - start)
                        rows.append((at, pid, "teetime", "round.completed", *writer.round()))
                    recurring -= rounds
                if recurring > 0:
                    types, cum = MIXES[mix_key(flags)]
                    for source, type_name in rng.choices(types, cum_weights=cum, k=recurring):
                        at = start + random_() * span
                        at, summary, properties, amount = writer.recurring(type_name, at, kind, tier)
                        rows.append((at, pid, source, type_name, summary, properties, amount))
            rows.sort(key=itemgetter(0))
            for at, pid, source, type_name, summary, properties, amount in rows:
                occurred = stamp(at)
                yield (club_id, pid, occurred, source, type_name, summary, properties, amount, occurred)

    # --- COPY --------------------------------------------------------------------------------

    def copy(self, model, columns: list[str], rows_for, total: int | None) -> None:
        """COPY the rows `rows_for(part, parts)` yields, in --workers processes (each generating
        and writing its share of the people on its own connection, so both cores work)."""
        table = model._meta.db_table
        columns, defaults = with_defaults(model, columns)
        workers = max(1, min(self.options.workers, math.ceil(len(self.kind) / BLOCK)))
        rows = f"{total:,} rows, " if total is not None else ""
        print(f"COPY {table} ({rows}{workers} worker{'s' if workers > 1 else ''}) …", flush=True)
        progress = Progress(table, total)
        if workers == 1:
            written = self.copy_part(table, columns, defaults, rows_for(0, 1), progress.add)
        else:
            context = multiprocessing.get_context("fork")
            counter = context.Value("q", 0)
            connections.close_all()  # each worker opens its own connection
            processes = [
                context.Process(
                    target=self.copy_worker, args=(table, columns, defaults, rows_for, part, workers, counter)
                )
                for part in range(workers)
            ]
            for process in processes:
                process.start()
            while any(process.is_alive() for process in processes):
                time.sleep(0.5)
                progress.show(counter.value)
            for process in processes:
                process.join()
            failed = [process.exitcode for process in processes if process.exitcode]
            if failed:
                sys.exit(
                    f"COPY {table}: {len(failed)} worker(s) failed (see above); club '{self.club.slug}' is "
                    "incomplete: run again with --replace."
                )
            written = counter.value
        progress.show(written, final=True)
        if total is not None and written != total:
            raise RuntimeError(f"{table}: wrote {written:,} rows, planned {total:,}")
        self.timings.append(timing(table, written, progress.seconds()))

    def copy_worker(self, table, columns, defaults, rows_for, part: int, parts: int, counter) -> None:
        def add(rows: int) -> None:
            with counter.get_lock():
                counter.value += rows

        try:
            self.copy_part(table, columns, defaults, rows_for(part, parts), add)
        finally:
            connections.close_all()

    def copy_part(self, table: str, columns: list[str], defaults: tuple, rows, on_chunk) -> int:
        """One transaction; one COPY statement per --chunk rows. Returns the rows written."""
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        written = 0
        rows = iter(rows)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO off")  # a benchmark loader: don't wait for the disk
            if self.options.skip_fk_checks:
                cursor.execute("SET LOCAL session_replication_role = replica")  # no RI triggers, this transaction
            else:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # FK checks per statement, not queued to COMMIT
            raw = cursor.cursor
            raw.adapters.register_dumper(JsonText, JsonTextBinaryDumper)  # this cursor only
            types = column_types(raw, table, columns)
            row = next(rows, None)
            while row is not None:
                chunk = 0
                with raw.copy(sql) as copy:
                    copy.set_types(types)
                    write_row = copy.write_row
                    while row is not None and chunk < self.options.chunk:
                        write_row(row + defaults if defaults else row)
                        chunk += 1
                        row = next(rows, None)
                written += chunk
                on_chunk(chunk)
        return written

    def references_verify(self) -> None:
        """With row-by-row FK checks skipped: every reference this run wrote, checked in one
        anti-join per foreign key, and stricter than the FK (the target must be in this club)."""
        print("Checking every reference in bulk …", flush=True)
        started = time.perf_counter()
        checked, broken = 0, []
        with connection.cursor() as cursor:
            for model in (ProfileIdentifier, ProfileTag, Activity):
                for field in model._meta.concrete_fields:
                    if not field.is_relation or field.related_model is Club:
                        continue
                    table, target = model._meta.db_table, field.related_model._meta.db_table
                    scoped = any(f.column == "club_id" for f in field.related_model._meta.concrete_fields)
                    same_club = " AND t.club_id = c.club_id" if scoped else ""
                    cursor.execute(
                        f"SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {target} t "
                        f"WHERE t.id = c.{field.column}{same_club})) "
                        f"FROM {table} c WHERE c.club_id = %s AND c.{field.column} IS NOT NULL",
                        [self.club.pk],
                    )
                    rows, orphans = cursor.fetchone()
                    checked += rows
                    if orphans:
                        broken.append(f"{table}.{field.column}: {orphans:,}")
        if broken:
            sys.exit(f"References to rows missing from club '{self.club.slug}': {'; '.join(broken)}.")
        self.timings.append(timing("check references in bulk (--skip-fk-checks)", 0, time.perf_counter() - started))
        print(f"  {checked:,} references, all to rows of this club.", flush=True)


# --- Activity content, as the pipeline writes it ---------------------------------------------
