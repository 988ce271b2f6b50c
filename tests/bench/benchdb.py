"""What every benchmark command shares: timestamped progress lines, one-off SQL, and a database of
its own (dropped and created again, then migrated) on the server DATABASE_URL points at."""

from __future__ import annotations

import time

from django.core.management import call_command
from django.db import connection


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def execute(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def create_database(name: str) -> None:
    execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    execute(f'CREATE DATABASE "{name}"')
    connection.close()
    connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)
