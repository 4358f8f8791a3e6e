"""The command line: `python -m benchmarks.dataset --profiles … --activities …`."""

import argparse
import json
import sys
from pathlib import Path

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from benchmarks import dataset
from benchmarks.dataset.build import Builder
from benchmarks.dataset.loading import CHUNK


def main() -> None:
    parser = argparse.ArgumentParser(description=dataset.__doc__.split("\n")[0])
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
            f"benchmarks.dataset writes with PostgreSQL's COPY; the configured database is {connection.vendor}. "
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
