"""The SQL names of the organisation's tables (stores and staff) for raw SQL in the apps built on
scrm, and the small helpers raw batch statements share."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import connection

from scrm.models import Store, User

STORE = Store._meta.db_table
USER = User._meta.db_table


def array(values) -> str:
    """A PostgreSQL array literal ('{"a","b",NULL}') for a `%s::type[]` parameter. psycopg2 renders a
    Python list as ARRAY['a', 'b', ...], which PostgreSQL parses element by element: for the
    thousands of values of a batch, the literal is several times cheaper."""
    out = []
    for value in values:
        if value is None:
            out.append("NULL")
            continue
        kind = type(value)
        if kind is int or kind is Decimal:
            out.append(str(value))
            continue
        text = value.isoformat() if kind is datetime else str(value)
        if '"' in text or "\\" in text:
            text = text.replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'"{text}"')
    return "{" + ",".join(out) + "}"


def fetchall(sql: str, params) -> list[tuple]:
    """The rows of one statement."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
