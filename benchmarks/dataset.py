#!/usr/bin/env python
"""Large-club dataset: N profiles and M activities COPYed straight into PostgreSQL, for benchmarks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairway .venv/bin/python benchmarks/dataset.py \\
        --profiles 1000000 --activities 20000000 [--club bench-large] [--replace] [--seed 7] [--json FILE]
        [--workers 2] [--skip-fk-checks]

For benchmarks only (page, segment and timeline speed on a club of realistic size). The product's
own way in stays the event pipeline: POST /api/v1/events → store → process (resolve, survivorship,
timeline). That path runs at thousands of events a second, so 20M activities through it would
take hours; this script writes what the pipeline would have left behind, directly with COPY:

- the club (created by slug; `--replace` first deletes an existing one and everything in it);
- profiles: the demo club's mix of people (active members across tiers, lapsed and resigned
  members, prospects, visitors) with names from the demo lists, `name_key` from
  `matching.name_key`, normalised emails, E.164 phones (some shared within a family), birthdays,
  postcodes, membership status/tier/dates, handicap, rounds_played and last_round_at that agree
  with the timeline, opt-ins; `lifecycle_stage` "new", `field_sources` and `custom_attributes` {};
- identifiers: email, phone, scl_member_id (members), teetime_player_id (golfers), handicap_id,
  messaging_contact_id, as the pipeline's resolver records them;
- a few tags, and profile tags on about one profile in eight;
- activities: skewed (most people a handful, a few thousands), catalog types and sources
  (member.created, booking.*, round.completed, payment.*, message.* …) over the last three years,
  with the summaries the pipeline's own handlers (`crm.events.apply`) write and small
  `properties`; `amount` only on payments, renewals and visitors' paid bookings.

How: a plan pass draws who each person is into compact arrays (about 50 bytes a person; no row
lists), then each table is streamed with binary COPY by --workers processes (default 2, one per
core: each generates and writes its share of the people on its own connection). Profile ids are
reserved up front from the table's sequence (a locked `setval`), so every other table references
profiles without a round trip; the other tables take ids from their own identity columns. A
person's activities are written in time order within blocks of 2,000 people, so a timeline is
spread over the heap as ingestion would leave it. Nothing the app needs is dropped: all indexes
and constraints stay, FK checks run per COPY statement (of at most --chunk rows), and the tables
are ANALYZEd at the end. `--skip-fk-checks` (superuser) turns the row-by-row FK triggers off for
the loading transactions only and checks every reference in bulk afterwards (also that it points
into this club): about 1.5x faster. Deterministic for a --seed (times are relative to now).
Not written: inbound events (activities have no `inbound_event`), merges, notes, scores.

PostgreSQL only; writes into the database DATABASE_URL names (migrated), not a scratch copy.
Measured on the 2-core dev box (PostgreSQL 15, default settings), 300k profiles / 6M activities:
120 s with FK checks row by row (activities ~66k rows/s), 90 s with --skip-fk-checks (~103k/s).
"""

import argparse
import json
import math
import multiprocessing
import os
import random
import sys
import time
from array import array
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.db import connection, connections, models, transaction  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402
from psycopg import postgres  # noqa: E402
from psycopg.adapt import Dumper  # noqa: E402
from psycopg.pq import Format  # noqa: E402

from crm.demo import story as demo_story  # noqa: E402
from crm.events import apply  # noqa: E402
from crm.identity.matching import NICKNAMES, name_key  # noqa: E402
from crm.models import Activity, Club, CustomerProfile, ProfileIdentifier, ProfileTag, Tag  # noqa: E402

# --- The people --------------------------------------------------------------------------------

# The demo's names, plus the formal names matching knows nicknames for (as benchmarks/identity.py).
FIRST_NAMES = list(dict.fromkeys([*demo_story.FIRST_NAMES, *(name.title() for name in NICKNAMES)]))
LAST_NAMES = list(demo_story.LAST_NAMES)
DOMAINS = demo_story.EMAIL_DOMAINS
TIERS = [tier for tier, _ in demo_story.TIERS]
TIER_CUM = [sum(weight for _, weight in demo_story.TIERS[: n + 1]) for n in range(len(TIERS))]
TIER_FEES = demo_story.TIER_FEES
COURSES = demo_story.COURSES
CAMPAIGNS = [(campaign_id, subject) for campaign_id, subject, _ in demo_story.CAMPAIGNS]
MOBILE_PREFIXES = (72, 73, 76, 79, 82, 83, 84)  # the demo's South African mobile ranges
CLUB_TIMEZONE = "Africa/Johannesburg"
CLUB_UTC_OFFSET = 2 * 3600  # no daylight saving: tee times are computed without zoneinfo

MEMBER, LAPSED, RESIGNED, PROSPECT, VISITOR = range(5)
KIND_CUM = [55, 67, 70, 88, 100]  # demo_story._person: 55 / 12 / 3 / 18 / 12
KIND_BUSYNESS = (1.6, 0.8, 0.5, 0.3, 0.4)  # relative share of the timeline per kind of person
SKEW_SIGMA = 1.1  # lognormal spread of activity per person: most a handful, a few thousands
SKEW_CAP = 60  # nobody gets more than this many times the average

# Profile flags, one byte per profile.
GOLFER, CONTACT, MEMBER_ID, PAYS, EMAIL_OPT, SMS_OPT = 1, 2, 4, 8, 16, 32

TAGS = (
    ("Keen golfer", "#2f6f4f"),
    ("Committee", "#6b4f2f"),
    ("Ladies section", "#8a3f6f"),
    ("Junior section", "#2f4f8a"),
    ("Seniors", "#5f5f5f"),
    ("Sponsor", "#b0802f"),
    ("Win-back", "#a33f2f"),
    ("Corporate day", "#2f7f8a"),
)

# Recurring activity per person, by what they are (lifecycle events come on top), per 100.
GOLF = (
    ("teetime", "booking.created", 30.0),
    ("teetime", "booking.checked_in", 26.0),
    ("teetime", "booking.cancelled", 2.5),
    ("teetime", "booking.no_show", 1.2),
)
ROUND_WEIGHT = 26.0  # round.completed: counted per profile so rounds_played matches the timeline
MEMBERSHIP = (
    ("scl", "payment.received", 9.0),
    ("scl", "payment.failed", 0.4),
    ("scl", "membership.renewed", 0.8),
    ("scl", "membership.tier_changed", 0.1),
    ("scl", "member.updated", 0.4),
)
MESSAGING = (
    ("messaging", "message.sent", 12.0),
    ("messaging", "message.delivered", 11.5),
    ("messaging", "message.opened", 6.0),
    ("messaging", "message.clicked", 1.6),
    ("messaging", "message.bounced", 0.2),
    ("messaging", "message.unsubscribed", 0.05),
)

DAY = 86400.0
WINDOW = 3 * 365 * DAY  # activities spread over the last three years
CHUNK = 100_000  # rows per COPY statement: FK checks run (and free their queue) at its end
BLOCK = 2_000  # profiles whose activities are generated together and written in time order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=2_000_000)
    parser.add_argument("--club", default="bench-large", help="Slug of the club to build (default bench-large).")
    parser.add_argument("--replace", action="store_true", help="Delete the club and its data first if it exists.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=CHUNK, help=f"Rows per COPY statement (default {CHUNK:,}).")
    parser.add_argument(
        "--skip-fk-checks",
        action="store_true",
        help="Don't check foreign keys row by row (session_replication_role=replica, superuser only); "
        "check every reference in bulk after loading instead. About 1.5x faster.",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="Processes generating and COPYing each table (default 2, one per core)."
    )
    parser.add_argument("--json", help="Write the figures to this file.")
    options = parser.parse_args()
    if options.profiles < 1 or options.activities < 0 or options.workers < 1 or options.chunk < 1:
        parser.error("--profiles, --workers and --chunk must be at least 1, --activities at least 0")

    if connection.vendor != "postgresql":
        sys.exit(
            f"benchmarks/dataset.py writes with PostgreSQL's COPY; the configured database is {connection.vendor}. "
            "Set DATABASE_URL=postgres://… (see README)."
        )
    if options.skip_fk_checks:
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if not cursor.fetchone()[0]:
                sys.exit("--skip-fk-checks needs a superuser (session_replication_role); run without it.")
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in pending[:5])
        sys.exit(f"The database has unapplied migrations ({names} …): run manage.py migrate first.")

    builder = Builder(options)
    figures = builder.run()
    print_table(figures)
    if options.json:
        Path(options.json).write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\nFigures written to {options.json}")


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


class _NoDraft:
    """The pipeline's handlers change a profile draft; here the profile is written separately."""

    def offer(self, *args, **kwargs):
        return False

    def offer_many(self, *args, **kwargs):
        pass

    def increment(self, *args, **kwargs):
        pass

    def keep_latest(self, *args, **kwargs):
        pass


class ActivityWriter:
    """Summary, properties and amount per activity, from `crm.events.apply`'s own handlers.

    Handlers are called with the event's (validated) data; results that only depend on a few
    values (a campaign, a tier's fee, a score) are cached, so most rows cost a dict lookup."""

    def __init__(self, club: Club, now: float):
        self.club, self.now = club, now
        self.rng: random.Random  # set per block of people
        self.cache: dict[tuple, tuple[str, str, Decimal | None]] = {}
        self.draft = _NoDraft()

    def handler(self, type_name: str, source: str, data: dict, at=None) -> tuple[str, Decimal | None]:
        applying = apply.Applying(
            club=self.club,
            row=None,
            data=data,
            at=at,
            source=source,
            draft=self.draft,
            phone=None,
            tournaments={},
        )
        outcome = apply.PERSON_HANDLERS[type_name](applying)
        return outcome if isinstance(outcome, tuple) else (outcome, None)

    def cached(self, key: tuple, source: str, data: dict, properties: dict | None = None):
        hit = self.cache.get(key)
        if hit is None:
            summary, amount = self.handler(key[0], source, data)
            hit = self.cache[key] = (summary[:300], json.dumps(properties or {}), amount)
        return hit

    def lifecycle(self, type_name: str, at: float, kind: int, tier: int, flags: int, handicap: int):
        if type_name == "member.created":
            status = "prospect" if kind == PROSPECT else "active"
            tier_name = TIERS[tier - 1] if tier else None
            data = {"status": status, "tier": tier_name}
            return self.cached((type_name, status, tier_name), "scl", data, {"status": status, "tier": tier_name})
        if type_name == "player.created":
            index = Decimal(handicap) / 10
            data = {"handicap_index": index, "home_course": COURSES[0]}
            return self.cached((type_name, handicap), "teetime", data, {**data, "handicap_index": str(index)})
        if type_name == "contact.created":
            return self.cached((type_name,), "messaging", {})
        if type_name == "consent.updated":
            channels = {"email": bool(flags & EMAIL_OPT), "sms": bool(flags & SMS_OPT), "whatsapp": False}
            key = (type_name, channels["email"], channels["sms"])
            return self.cached(key, "messaging", {"channels": channels}, {"channels": channels})
        if type_name == "membership.lapsed":
            on = day_of(at)
            return self.cached((type_name, on), "scl", {"lapsed_on": on}, {"lapsed_on": on.isoformat()})
        reason = ("Relocating", "Joined another club", "Cost", "")[self.rng.randrange(4)]
        return self.cached((type_name, reason), "scl", {"reason": reason}, {"reason": reason} if reason else {})

    def round(self):
        rng = self.rng
        course = COURSES[0] if rng.random() < 0.75 else COURSES[1]
        holes = 18 if course == COURSES[0] else 9
        gross = rng.randint(72, 108) if holes == 18 else rng.randint(36, 54)
        points = max(8, (36 - (gross - 84) // 2) * holes // 18 + rng.randint(-3, 3))
        data = {"course": course, "holes": holes, "gross_score": gross, "stableford_points": points}
        return self.cached(("round.completed", course, gross, points), "teetime", data, data)

    def recurring(self, type_name: str, at: float, kind: int, tier: int):
        """(occurred_at, summary, properties JSON, amount) for one recurring activity."""
        rng = self.rng
        if type_name.startswith("booking."):
            # Tee times on the ten-minute grid between 06:00 and 15:50 club time.
            day = (at + CLUB_UTC_OFFSET) // DAY
            tee = day * DAY + (6 * 3600 + rng.randrange(60) * 600) - CLUB_UTC_OFFSET
            course = COURSES[0] if rng.random() < 0.75 else COURSES[1]
            data = {"tee_time": datetime.fromtimestamp(tee, UTC), "course": course}
            if type_name == "booking.created":
                at = min(at, tee - DAY * (1 + rng.random() * 9))
                data["players"] = rng.randint(1, 4)
                if kind in (VISITOR, PROSPECT):
                    data["amount"] = Decimal(650)
            else:
                at = {"booking.checked_in": tee - 900, "booking.no_show": tee + 3600}.get(type_name, tee - DAY)
                at = min(at, self.now)
            summary, amount = self.handler(type_name, "teetime", data)
            holes = 18 if course == COURSES[0] else 9
            properties = PROPERTY_CACHE.get((course, holes))
            if properties is None:
                properties = PROPERTY_CACHE[course, holes] = json.dumps({"course": course, "holes": holes})
            return at, summary, properties, amount
        if type_name.startswith("message."):
            campaign_id, subject = CAMPAIGNS[rng.randrange(len(CAMPAIGNS))]
            data = {"channel": "email", "campaign_id": campaign_id, "message_id": campaign_id}
            if type_name == "message.sent":
                data["subject"] = subject
            elif type_name == "message.clicked":
                data["url"] = f"https://demo.fairway.example/{campaign_id}"
            elif type_name == "message.bounced":
                data["reason"] = "Mailbox does not exist"
            properties = {"channel": "email", "campaign_id": campaign_id}
            return (at, *self.cached((type_name, campaign_id), "messaging", data, properties))
        tier_name = TIERS[tier - 1] if tier else TIERS[0]
        fee = Decimal(TIER_FEES[tier_name])
        if type_name == "payment.received":
            data = {"amount": fee, "currency": "ZAR", "description": "Monthly subscription"}
            return (at, *self.cached((type_name, tier_name), "scl", data, {**data, "amount": str(fee)}))
        if type_name == "payment.failed":
            data = {"amount": fee, "currency": "ZAR", "reason": "Card declined"}
            return (at, *self.cached((type_name, tier_name), "scl", data, {**data, "amount": str(fee)}))
        if type_name == "membership.renewed":
            renewal = day_of(at) + timedelta(days=365)
            data = {"renewal_on": renewal, "amount": fee * 12}
            properties = {"renewal_on": renewal.isoformat(), "amount": str(fee * 12)}
            return (at, *self.cached((type_name, renewal, tier_name), "scl", data, properties))
        if type_name == "membership.tier_changed":
            others = [name for name in TIERS if name != tier_name]
            new_tier = others[rng.randrange(len(others))]
            data = {"tier": new_tier, "previous_tier": tier_name}
            return (at, *self.cached((type_name, tier_name, new_tier), "scl", data, data))
        changed = rng.randrange(len(MEMBER_UPDATES))
        return (at, *self.cached((type_name, changed), "scl", MEMBER_UPDATES[changed]))


PROPERTY_CACHE: dict[tuple, str] = {}
HANDICAPS = tuple(Decimal(tenths) / 10 for tenths in range(361))
# What member.updated events carry (the summary names the fields; properties stay {}).
MEMBER_UPDATES = ({"phone": "+27820000000"}, {"email": "new@example.com"}, {"address": {"line": "1 Fairway Drive"}})
FINAL_TYPES = frozenset({"membership.lapsed", "membership.resigned"})
# Seconds after a person's first appearance at which each system introduces them.
LIFECYCLE_OFFSET = {"member.created": 0, "player.created": 60, "contact.created": 120, "consent.updated": 300}


def lifecycle_types(kind: int, flags: int) -> list[tuple[str, str]]:
    """The one-off events that introduce a person to each system and end a membership, most
    telling first: a person with fewer activities than these keeps the first ones."""
    types = []
    if flags & MEMBER_ID:
        types.append(("scl", "member.created"))
    if kind == LAPSED:
        types.append(("scl", "membership.lapsed"))
    elif kind == RESIGNED:
        types.append(("scl", "membership.resigned"))
    if flags & GOLFER:
        types.append(("teetime", "player.created"))
    if flags & CONTACT:
        types += [("messaging", "contact.created"), ("messaging", "consent.updated")]
    return types


def mix_key(flags: int) -> int:
    return flags & (GOLFER | CONTACT | PAYS)


def _mixes() -> tuple[dict[int, tuple[list, list]], dict[int, float]]:
    mixes, round_share = {}, {}
    for key in range((GOLFER | CONTACT | PAYS) + 1):
        parts = (
            (GOLF if key & GOLFER else ()) + (MEMBERSHIP if key & PAYS else ()) + (MESSAGING if key & CONTACT else ())
        )
        parts = parts or MEMBERSHIP
        weights = [weight for _, _, weight in parts]
        total = sum(weights) + (ROUND_WEIGHT if key & GOLFER else 0)
        cum, running = [], 0.0
        for weight in weights:
            running += weight
            cum.append(running)
        mixes[key] = ([(source, type_name) for source, type_name, _ in parts], cum)
        round_share[key] = ROUND_WEIGHT / total if key & GOLFER else 0.0
    return mixes, round_share


MIXES, ROUND_SHARE = _mixes()


def identifier_count(flags: int, phone: int) -> int:
    count = 1 + bool(phone) + bool(flags & MEMBER_ID) + bool(flags & CONTACT)
    return count + bool(flags & GOLFER) + bool(flags & GOLFER and flags & PAYS)


def birthday(rng: random.Random) -> date:
    return date(1945 + rng.randrange(63), 1 + rng.randrange(12), 1 + rng.randrange(28))


def zeros(code: str, length: int) -> array:
    return array(code, bytes(array(code).itemsize * length))


def day_of(seconds: float) -> date:
    return datetime.fromtimestamp(seconds, UTC).date()


def email_of(index: int, first: int, last: int, domain: int) -> str:
    return f"{FIRST_NAMES[first]}.{LAST_NAMES[last]}{index}@{DOMAINS[domain]}".lower().replace(" ", "")


def phone_of(national: int) -> str:
    return f"+27{national}" if national else ""


def stamper():
    """epoch seconds → aware datetime, the type COPY adapts without guessing."""
    from_timestamp = datetime.fromtimestamp

    def stamp(seconds: float) -> datetime:
        return from_timestamp(seconds, UTC)

    return stamp


class Progress:
    """Rows written and rows/s, printed at most every two seconds."""

    def __init__(self, label: str, total: int | None):
        self.label, self.total = label, total
        self.started = self.last = time.perf_counter()
        self.done = self.shown = 0

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def add(self, rows: int) -> None:
        self.done += rows
        self.show(self.done)

    def show(self, done: int, *, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and (now - self.last < 2 or done == self.shown):
            return
        self.last, self.shown = now, done
        out_of = f" / {self.total:,}" if self.total is not None else ""
        rate = done / (now - self.started) if now > self.started else 0
        print(f"  {self.label}: {done:,}{out_of} rows, {rate:,.0f} rows/s", flush=True)


def timing(label: str, rows: int, seconds: float) -> dict:
    return {"table": label, "rows": rows, "seconds": seconds, "rows_per_second": rows / seconds if seconds else None}


PROFILE_COLUMNS = [
    "id",
    "club_id",
    "first_name",
    "last_name",
    "primary_email",
    "primary_phone",
    "date_of_birth",
    "gender",
    "postcode",
    "country",
    "locale",
    "timezone",
    "member_number",
    "membership_status",
    "membership_tier",
    "membership_joined_on",
    "membership_renewal_on",
    "membership_lapsed_on",
    "handicap_index",
    "home_course",
    "rounds_played",
    "last_round_at",
    "email_opt_in",
    "sms_opt_in",
    "push_opt_in",
    "whatsapp_opt_in",
    "consent_updated_at",
    "lifecycle_stage",
    "custom_attributes",
    "field_sources",
    "name_key",
    "is_erased",
    "created_at",
    "updated_at",
]
IDENTIFIER_COLUMNS = ["club_id", "profile_id", "kind", "value", "source", "first_seen_at", "last_seen_at"]
PROFILE_TAG_COLUMNS = ["club_id", "profile_id", "tag_id", "created_at"]
ACTIVITY_COLUMNS = [
    "club_id",
    "profile_id",
    "occurred_at",
    "source",
    "type",
    "summary",
    "properties",
    "amount",
    "created_at",
]


class JsonText(str):
    """Only a name to register JsonTextBinaryDumper under; COPY picks dumpers by column type."""


class JsonTextBinaryDumper(Dumper):
    """jsonb in binary COPY from JSON text the generator already has: format version 1, then the text.

    Binary COPY saves the server parsing every timestamp and number (about 15-20% on activities)."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


def column_types(cursor, table: str, columns: list[str]) -> list[str]:
    """Each COPY column's type name, as binary COPY needs them (varchar travels as text)."""
    cursor.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        [table],
    )
    names = dict(cursor.fetchall())
    return ["text" if names[column] in ("varchar", "bpchar") else names[column] for column in columns]


def with_defaults(model, columns: list[str]) -> tuple[list[str], tuple]:
    """The COPY columns plus any NOT NULL column this script doesn't know (added since it was
    written) filled with the model field's default; a new required column without one stops here."""
    extra_columns, extra_values = [], []
    for field in model._meta.concrete_fields:
        if field.column in columns or field.primary_key:
            continue
        value = field.get_default()  # "" for text fields without a default, as a model save would store
        if value is None:
            if not field.null:
                sys.exit(f"{model._meta.db_table}.{field.column} is required and has no default: teach dataset.py it.")
            continue
        extra_columns.append(field.column)
        extra_values.append(json.dumps(value) if isinstance(field, models.JSONField) else value)
    return [*columns, *extra_columns], tuple(extra_values)


def reserve_ids(model, count: int) -> int:
    """The first of `count` consecutive ids nobody else will get: the sequence is moved past them
    while the table is locked against inserts (a few milliseconds)."""
    table = model._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT nextval(%s), (SELECT coalesce(max(id), 0) FROM {table})", [sequence])
        next_value, highest = cursor.fetchone()
        first = max(next_value, highest + 1)
        cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


def club_delete(club: Club) -> int:
    """Everything of one club, with one DELETE per table (the ORM would load a million rows to
    cascade). Tables are emptied children first; rows in tables without a club column that point
    at the club's rows go first of all (none today)."""
    scoped, indirect = [], []
    for model in apps.get_models(include_auto_created=True):
        relations = [field for field in model._meta.concrete_fields if field.is_relation]
        if any(field.related_model is Club for field in relations):
            scoped.append(model)
    scoped_set = set(scoped)
    for model in apps.get_models(include_auto_created=True):
        if model in scoped_set or model is Club:
            continue
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model in scoped_set:
                indirect.append((model, field))
    order, remaining = [], list(scoped)
    while remaining:  # children (models nobody remaining points at) first
        referenced = {
            field.related_model
            for model in remaining
            for field in model._meta.concrete_fields
            if field.is_relation and field.related_model is not model
        }
        leaves = [model for model in remaining if model not in referenced] or remaining[:1]
        order += leaves
        remaining = [model for model in remaining if model not in leaves]
    deleted = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for model, field in indirect:
            parent = field.related_model._meta.db_table
            where = f"{field.column} IN (SELECT id FROM {parent} WHERE club_id = %s)"
            table = model._meta.db_table
            if field.remote_field.on_delete is models.SET_NULL:
                cursor.execute(f"UPDATE {table} SET {field.column} = NULL WHERE {where}", [club.pk])
            else:
                cursor.execute(f"DELETE FROM {table} WHERE {where}", [club.pk])
                deleted += cursor.rowcount
        for model in order:
            column = next(f.column for f in model._meta.concrete_fields if f.is_relation and f.related_model is Club)
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE {column} = %s", [club.pk])
            deleted += cursor.rowcount
        cursor.execute(f"DELETE FROM {Club._meta.db_table} WHERE id = %s", [club.pk])
    return deleted


def print_table(figures: dict) -> None:
    print()
    print(
        f"Dataset for club '{figures['club']}' (#{figures['club_id']}): {figures['profiles']:,} profiles, "
        f"{figures['activities']:,} activities, seed {figures['seed']}; FK checks {figures['fk_checks']}"
    )
    print(f"{'table':<46} {'rows':>12} {'seconds':>9} {'rows/s':>10}")
    print("-" * 80)
    for row in figures["tables"]:
        rate = f"{row['rows_per_second']:,.0f}" if row["rows_per_second"] else "—"
        print(f"{row['table']:<46} {row['rows']:>12,} {row['seconds']:>9.2f} {rate:>10}")
    print("-" * 80)
    print(
        f"{'total':<46} {figures['total_rows']:>12,} {figures['total_seconds']:>9.2f} "
        f"{figures['rows_per_second']:>10,.0f}"
    )


if __name__ == "__main__":
    main()
