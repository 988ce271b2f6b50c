"""manage.py seed_demo: the demo brand, its organisation first, then each app's demo data over it."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scrm import demo


class Command(BaseCommand):
    help = "Create (or complete) the demo brand: stores, staff, members and each app's data. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=2000, help="how many demo members (default 2000)")
        parser.add_argument("--force", action="store_true", help="allow running in production")

    def handle(self, *args, members, force, **options):
        if settings.PRODUCTION and not force:
            raise CommandError("seed_demo refuses to run with SIYU_ENV=production (use --force to insist)")
        if members < 0:
            raise CommandError("--members must be 0 or more")
        started = time.monotonic()
        result = demo.seed()
        apps = demo.seed_apps(members=members)
        self.stdout.write(
            f"Demo brand ready: {result.stores} stores, {result.staff} staff in {time.monotonic() - started:.1f} s"
        )
        for app, summary in apps:
            self.stdout.write(f"  {app}: {summary.removeprefix(app + ': ')}")
        self.stdout.write("Demo logins (password kept in var/demo-password):")
        for _role, username, password in result.logins:
            self.stdout.write(f"  {username:<14} {password}")
