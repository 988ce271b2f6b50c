"""The monthly partitions of the deliveries table: made ahead of the months sends will land in, and
detached when a month is old enough to archive (the live months stay untouched).

A delivery of a month with no partition yet is not lost: it lands in the default partition, and
`ensure_partitions` moves such rows into the month's own partition when it makes it."""

from __future__ import annotations

import datetime as dt
import re

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Delivery

TABLE = Delivery._meta.db_table
DEFAULT = f"{TABLE}_default"
NAME = re.compile(rf"^{TABLE}_y(\d{{4}})m(\d{{2}})$")


def month_of(day: dt.date | dt.datetime) -> dt.date:
    if isinstance(day, dt.datetime):
        day = timezone.localtime(day).date()
    return day.replace(day=1)


def _next(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def partition_name(month: dt.date) -> str:
    return f"{TABLE}_y{month:%Y}m{month:%m}"


def partitions() -> list[dt.date]:
    """The months that have a partition of their own, ascending."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    return sorted(dt.date(int(m[1]), int(m[2]), 1) for m in map(NAME.match, names) if m)


@transaction.atomic
def create_partition(month: dt.date) -> bool:
    """Make `month`'s partition (False when it exists), moving any of its rows the default partition
    caught first."""
    month = month_of(month)
    if month in partitions():
        return False
    name, until = partition_name(month), _next(month)
    with connection.cursor() as cursor:
        # Lock out writers of the default partition while its rows of this month move out.
        cursor.execute(f'LOCK TABLE "{DEFAULT}" IN SHARE ROW EXCLUSIVE MODE')
        cursor.execute(f'CREATE TABLE "{name}" (LIKE "{TABLE}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
        cursor.execute(
            f'WITH moved AS (DELETE FROM "{DEFAULT}" WHERE send_month >= %s AND send_month < %s RETURNING *) '
            f'INSERT INTO "{name}" SELECT * FROM moved',
            [month, until],
        )
        cursor.execute(f'ALTER TABLE "{TABLE}" ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)', [month, until])
    return True


def ensure_partitions(*, months_ahead: int = 2, today: dt.date | None = None) -> list[dt.date]:
    """Make the partitions of this month and the next `months_ahead`; the months made."""
    month = month_of(today or timezone.now())
    made = []
    for _ in range(months_ahead + 1):
        if create_partition(month):
            made.append(month)
        month = _next(month)
    return made


def detach_partition(month: dt.date) -> str:
    """Detach `month`'s partition from the deliveries table (its rows stay in the table it returns,
    for archiving or dropping); live months are not touched."""
    month = month_of(month)
    if month not in partitions():
        raise ValueError(f"no partition for {month:%Y-%m}")
    name = partition_name(month)
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{name}"')
    return name
