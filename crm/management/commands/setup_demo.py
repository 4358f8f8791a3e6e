from django.core.management.base import BaseCommand

from crm.demo.club import demo_club_setup


class Command(BaseCommand):
    help = "Create (or refresh) the demo club and print a fresh owner login for it."

    def add_arguments(self, parser):
        parser.add_argument("--password", help="Use this password instead of a generated one.")

    def handle(self, *args, password=None, **options):
        club, email, password = demo_club_setup(password=password)
        bar = "=" * 64
        self.stdout.write(
            f"\n{bar}\n  Demo club: {club.name} ({club.slug})\n"
            f"  Sign in at http://127.0.0.1:8000/  as  {email}\n"
            f"  Password:  {password}\n"
            f"  Back office (admin): http://127.0.0.1:8000/admin/\n{bar}\n"
        )
