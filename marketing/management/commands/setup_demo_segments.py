from django.core.management.base import BaseCommand

from crm.demo.club import demo_club_get_or_create
from marketing.demo import demo_segments_setup


class Command(BaseCommand):
    help = "Give the demo club a few example segments (those it lacks), refreshed."

    def handle(self, *args, **options):
        club = demo_club_get_or_create()
        made = demo_segments_setup(club=club)
        for segment in made:
            self.stdout.write(f"  segment '{segment.name}': {segment.member_count} members")
        self.stdout.write(f"{len(made)} demo segment(s) created.")
