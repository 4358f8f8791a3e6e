import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from crm.backfill.importer import import_formats, profiles_import, rejections_write
from crm.errors import CrmError
from crm.kernel.actor import Actor
from crm.models import Club


class Command(BaseCommand):
    help = "Import an MCA v1 CSV export (backfill) through identity resolution, with a reconciliation report."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--club", required=True, help="The club's slug.")
        parser.add_argument("--format", required=True, choices=sorted(import_formats()), dest="fmt")
        parser.add_argument("--dry-run", action="store_true", help="Do everything, report, then keep nothing.")
        parser.add_argument(
            "--errors", type=Path, help="Where to write rejected rows (default: FILE.rejected.csv next to FILE)."
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, file, club, fmt, dry_run, errors, batch_size, **options):
        club_obj = Club.objects.filter(slug=club).first()
        if club_obj is None:
            raise CommandError(f"No club with slug '{club}'.")
        started = time.monotonic()

        def progress(done, total):
            width = 30
            filled = int(width * done / max(total, 1))
            rate = done / max(time.monotonic() - started, 1e-6)
            sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} rows ({rate:,.0f}/s)")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

        try:
            report = profiles_import(
                club=club_obj,
                actor=Actor.system(),
                fmt=fmt,
                source=file,
                dry_run=dry_run,
                on_progress=progress,
                batch_size=batch_size,
            )
        except CrmError as error:
            raise CommandError(f"{file}: {error.message} Nothing was imported.") from error

        self.stdout.write(f"\nReconciliation for {file} ({fmt}){' — DRY RUN, nothing kept' if dry_run else ''}")
        for label, value in (
            ("read", report.read),
            ("created", report.created),
            ("matched", report.matched),
            ("merged", report.merged),
            ("suggested", report.suggested),
            ("rejected", report.rejected),
        ):
            self.stdout.write(f"  {label:<10} {value:>8,}")
        self.stdout.write(f"  warnings   {report.warnings:>8,}   ({report.seconds:,.1f} s)")
        if report.rejections:
            path = errors or file.with_suffix(".rejected.csv")
            rejections_write(report, path)
            self.stdout.write(self.style.WARNING(f"Rejected rows and their reasons: {path}"))
        if report.suggested:
            self.stdout.write("Review the suggested pairs in the admin under Merge suggestions.")
