"""Rebuild (or check) the member bitmap index of segments from the members and tags tables."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from members.segments import index


class Command(BaseCommand):
    help = "Recompute the segments' bitmap index from members and tags (writers wait); --check only compares."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="compare index and tables; exit 1 if they differ")

    def handle(self, *args, check=False, **options):
        started = time.monotonic()
        if check:
            diffs = index.differences()
            if diffs:
                for dimension, key, chunk, stored, actual in diffs:
                    self.stderr.write(f"{dimension} {key} chunk {chunk}: index has {stored} members, tables {actual}")
                self.stderr.write("The index and the tables differ; run `manage.py rebuild_index`.")
                raise SystemExit(1)
            self.stdout.write(f"The index is exact ({time.monotonic() - started:.1f} s).")
            return
        chunks = index.rebuild()
        self.stdout.write(f"Rebuilt {chunks} bitmap chunks in {time.monotonic() - started:.1f} s.")
