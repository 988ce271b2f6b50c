"""Member import: rows per second when every row repeats one identity, beside every row distinct.

    nice .venv/bin/python tests/bench/members_import_bench.py                      # 10k, 100k, 1M
    .venv/bin/python tests/bench/members_import_bench.py --sizes 10000,100000      # a quick look

A command, not a test. Its own database (bench_siyu_import, dropped and created again, migrated),
one store. For each size N it writes two CSV files of the same shape (name, phone, wecom) and
imports each through members.io.services as a worker does (create_import, then run_import), in
two modes:
- dry_run: every check, nothing written (the repeated file's rows are all errors: its wecom id is
  on every row, so each row names five others; the distinct file has no error);
- valid_rows: the distinct file writes N members and 2N identities; the repeated file writes none.
The figure to read is dry_run, repeated beside distinct: the duplicate check must stay linear, so
the two rates stay within 2x of each other at every size. (Before: the repeated file's check was
quadratic, 40,000 rows took 28 s in the web request and 80,000 rows 103 s.)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import UploadedFile  # noqa: E402
from django.db import connection  # noqa: E402

from tests.bench.benchdb import create_database, execute, log  # noqa: E402

CASES = ("repeated", "distinct")


def write_csv(path: Path, n: int, case: str) -> None:
    """N rows of a distinct phone each, and a wecom id that is the same on every row or distinct."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("name,phone,wecom\n")
        for start in range(0, n, 100_000):
            handle.write(
                "".join(
                    f"m{i},1{'35789'[i % 5]}{i:09d},{'wm-same' if case == 'repeated' else f'wm{i:09d}'}\n"
                    for i in range(start, min(start + 100_000, n))
                )
            )


def run(path: Path, operator, mode: str):
    from members.io import services

    started = time.perf_counter()
    with open(path, "rb") as handle:
        job = services.create_import(
            actor=operator, upload=UploadedFile(handle, name=path.name, size=path.stat().st_size), mode=mode
        )
    job = services.run_import(job_id=job.pk)
    return job, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated row counts")
    parser.add_argument("--database", default="bench_siyu_import")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--modes", default="dry_run,valid_rows")
    parser.add_argument("--trace", action="store_true", help="log each SQL statement's time")
    args = parser.parse_args()
    if args.trace:
        import logging

        logging.basicConfig()
        logging.getLogger("members.io.bulk").setLevel(logging.DEBUG)
    modes = args.modes.split(",")
    sizes = [int(size) for size in args.sizes.split(",")]
    from django.conf import settings

    from scrm.models import Region, Store, User

    settings.MEMBER_IMPORT_MAX_BYTES = 10 * 1024**3
    settings.MEMBER_IMPORT_TIME_LIMIT = 6 * 3600  # the figures, not the worker's time limit
    original = connection.settings_dict["NAME"]
    log(f"creating database {args.database}")
    create_database(args.database)
    region = Region.objects.create(code="bench", name="Bench")
    Store.objects.create(code="B001", name="Store 1", region=region, city="上海")
    operator = User.objects.create(username="bench_operator", role="operator")
    workdir = Path(tempfile.mkdtemp(prefix="siyu-import-bench-"))
    settings.MEDIA_ROOT = str(workdir / "media")
    results = []
    try:
        for n in sizes:
            for case in CASES:
                path = workdir / f"{case}-{n}.csv"
                write_csv(path, n, case)
                for mode in modes:
                    execute("TRUNCATE members_identity, members_member CASCADE")
                    job, elapsed = run(path, operator, mode)
                    assert job.status in ("done", "failed"), job.status
                    expected_invalid = n if case == "repeated" else 0
                    assert job.rows_total == n and job.rows_invalid == expected_invalid, (job.summary, job.errors[:2])
                    log(
                        f"{n:>9,} {case:9} {mode:10} {elapsed:8.2f} s  {n / elapsed:>10,.0f} rows/s  "
                        f"{path.stat().st_size / 1024**2:.1f} MB  {job.timings}"
                    )
                    results.append((n, case, mode, elapsed))
                path.unlink()
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        if not args.keep:
            execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    print()
    print(
        f"Siyu member import, one repeated identity beside distinct ones; PostgreSQL "
        f"{execute('SHOW server_version')[0][0]}, {os.cpu_count()} cores"
    )
    print(f"{'rows':>10} {'mode':10} {'repeated rows/s':>16} {'distinct rows/s':>16} {'distinct/repeated':>18}")
    rate = {(n, case, mode): n / elapsed for n, case, mode, elapsed in results}
    for n in sizes:
        for mode in modes:
            repeated, distinct = rate[(n, "repeated", mode)], rate[(n, "distinct", mode)]
            print(f"{n:>10,} {mode:10} {repeated:>16,.0f} {distinct:>16,.0f} {distinct / repeated:>18.2f}")
    if "dry_run" not in modes:
        return
    worst = max(
        max(rate[(n, "repeated", "dry_run")], rate[(n, "distinct", "dry_run")])
        / min(rate[(n, "repeated", "dry_run")], rate[(n, "distinct", "dry_run")])
        for n in sizes
    )
    print(f"dry run, the slower case against the faster at worst: {worst:.2f}x (target: within 2x)")


if __name__ == "__main__":
    main()
