from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from crm.events.docs import catalog_markdown

DOC_PATH = Path(settings.BASE_DIR) / "docs" / "events.md"


class Command(BaseCommand):
    help = "Write docs/events.md from the event catalog in code, or --check that it is current."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true")

    def handle(self, *args, check=False, **options):
        text = catalog_markdown()
        if check:
            if not DOC_PATH.exists() or DOC_PATH.read_text() != text:
                raise CommandError("docs/events.md is stale: run `python manage.py events_catalog`.")
            self.stdout.write("docs/events.md is current.")
            return
        DOC_PATH.write_text(text)
        self.stdout.write(f"Wrote {DOC_PATH}")
