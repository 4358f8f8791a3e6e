import logging
import time

from django.core.management.base import BaseCommand

from config.celery import app as celery_app
from crm.demo.club import demo_club_get_or_create
from crm.demo.seeding import demo_club_seed
from crm.events.processing import events_process_pending


class Command(BaseCommand):
    help = (
        "Fill the demo club with a believable membership, golf and messaging history, sent as signed "
        "events through POST /api/v1/events. Deterministic: running it again stores nothing new."
    )

    def add_arguments(self, parser):
        parser.add_argument("--profiles", type=int, default=2000, help="About how many people (default 2000).")
        parser.add_argument("--seed", type=int, default=7, help="Random seed; another seed is another club.")
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Leave processing to the Celery workers instead of running the tasks in this process.",
        )

    def handle(self, *args, profiles, seed, queue, **options):
        club = demo_club_get_or_create()
        # By default the processing task runs in-process right after each batch is stored: the same
        # task code the workers run, without needing them to be up yet.
        celery_app.conf.task_always_eager = not queue
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # one line per batch is noise here
        started = time.monotonic()
        last_line = 0.0

        def report(progress):
            nonlocal last_line
            if time.monotonic() - last_line < 2 and progress.sent < progress.total:
                return
            last_line = time.monotonic()
            rate = progress.sent / max(time.monotonic() - started, 1e-6)
            self.stdout.write(
                f"  {progress.sent:>7,}/{progress.total:,} events sent ({rate:,.0f}/s): "
                f"{progress.counts['accepted']:,} accepted, {progress.counts['duplicate']:,} already there, "
                f"{progress.counts['rejected']:,} rejected"
            )

        self.stdout.write(f"Seeding {club.name}: about {profiles:,} people, as SCL, TeeTime and Messaging events")
        totals = demo_club_seed(club=club, profiles=profiles, seed=seed, on_progress=report)
        if not queue:
            events_process_pending(club=club, limit=1_000_000)  # anything a transient error left behind
        self.stdout.write(
            self.style.SUCCESS(
                f"Done in {time.monotonic() - started:,.1f} s: {totals['accepted']:,} new events, "
                f"{totals['duplicate']:,} already stored, {totals['rejected']:,} rejected."
            )
        )
