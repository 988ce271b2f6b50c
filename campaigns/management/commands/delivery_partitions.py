"""Make the deliveries table's monthly partitions ahead (the beat does it daily), or detach an old
month's partition for archiving: `manage.py delivery_partitions [--ahead 3] [--detach 2025-01]`."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from campaigns import partitions


class Command(BaseCommand):
    help = "Make the deliveries table's monthly partitions ahead, or detach an old month's."

    def add_arguments(self, parser):
        parser.add_argument("--ahead", type=int, default=2, help="months after this one (default 2)")
        parser.add_argument("--detach", metavar="YYYY-MM", help="detach this month's partition")

    def handle(self, *args, ahead: int, detach: str | None, **options):
        if detach:
            try:
                month = dt.datetime.strptime(detach, "%Y-%m").date()
                name = partitions.detach_partition(month)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"detached {name}")
            return
        made = partitions.ensure_partitions(months_ahead=ahead)
        self.stdout.write(f"made {len(made)} partition(s): {', '.join(f'{m:%Y-%m}' for m in made) or 'none needed'}")
