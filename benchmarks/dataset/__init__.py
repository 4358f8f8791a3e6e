"""Large-club dataset: N profiles and M activities COPYed straight into PostgreSQL, for benchmarks.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fairway .venv/bin/python -m benchmarks.dataset \\
        --profiles 1000000 --activities 20000000 [--club bench-large] [--replace] [--seed 7] [--json FILE]
        [--workers 2] [--skip-fk-checks]

The package: `generation.py` draws the people and their activities, `loading.py` COPYs rows
into PostgreSQL, `build.py` runs the plan and the workers, `cli.py` is the command line.

For benchmarks only (page, segment and timeline speed on a club of realistic size). The product's
own way in stays the event pipeline: POST /api/v1/events → store → process (resolve, survivorship,
timeline). That path runs at thousands of events a second, so 20M activities through it would
take hours; this package writes what the pipeline would have left behind, directly with COPY:

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
