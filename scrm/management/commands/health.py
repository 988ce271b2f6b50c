import sys

from django.core.management.base import BaseCommand

from scrm import queries
from scrm.services import health


class Command(BaseCommand):
    help = "Print whether the database, the broker, the worker and beat are alive; exit 1 if a required one is not."

    def add_arguments(self, parser):
        parser.add_argument(
            "--require",
            action="append",
            choices=["database", "broker", "worker", "beat"],
            default=[],
            help="exit with status 1 unless this one is alive (repeatable; default: database and broker)",
        )

    def handle(self, *args, require, **options):
        required = set(require or ["database", "broker"])
        status = {"database": health.check_database() is None, "broker": health.check_broker() is None}
        for row in queries.service_status() if status["database"] else []:
            status[row["name"]] = row["ok"]
        failed = False
        for name in ("database", "broker", "worker", "beat"):
            alive = status.get(name, False)
            self.stdout.write(f"{name:<9} {'ok' if alive else 'DOWN'}")
            failed |= name in required and not alive
        if failed:
            sys.exit(1)
