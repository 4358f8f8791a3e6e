from django.core.management.base import BaseCommand

from config.schedules import schedules_sync


class Command(BaseCommand):
    help = "Upsert the periodic jobs declared in config/schedules.py into the beat database, by name."

    def handle(self, *args, **options):
        result = schedules_sync()
        self.stdout.write(
            f"Schedules: {result['created']} created, {result['updated']} updated, {result['disabled']} disabled."
        )
