"""Load a brand's members into an empty pool from an import file, indexes rebuilt around the load
(members.io.first_load)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from members.io import first_load
from scrm.models import Role, User

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = ("Load members (identities, tags, attributes, consent) from an import file (CSV or XLSX) into an "
            "empty pool: the import's checks, then a load with the member tables' indexes rebuilt afterwards. "
            "Refused when the pool is live or an import is running; nothing is written unless every row is valid.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="a CSV or XLSX file in the import's format")
        parser.add_argument("--user", help="an operator's username, recorded on tags and consent (default: none)")
        parser.add_argument("--encoding", help="the CSV's encoding when it cannot be detected (utf-8, gb18030...)")

    def handle(self, *args, file, user=None, encoding=None, **options):
        actor = None
        if user:
            actor = User.objects.filter(username=user, is_active=True).first()
            if actor is None or actor.role != Role.OPERATOR:
                raise CommandError(f"--user: {user!r} is not an active operator.")
        try:
            result = first_load.run(file, actor=actor, encoding=encoding)
        except first_load.FirstLoadRefused as exc:
            for error in exc.errors[:SHOWN_ERRORS]:
                self.stderr.write(f"row {error['row']}, column {error['column'] or '-'}: {error['message']}")
            if exc.error_count > SHOWN_ERRORS:
                self.stderr.write(f"... and {exc.error_count - SHOWN_ERRORS:,} more errors.")
            raise CommandError(exc.message) from None
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.timings.items())
        self.stdout.write(
            f"Loaded {result.rows:,} rows in {result.seconds:.1f} s ({result.rate:,.0f} rows/s): "
            f"{result.created:,} members created, {result.updated:,} updated, {result.identities:,} identities, "
            f"{result.tags:,} tags, {result.consents:,} consent answers.\n{steps}")
