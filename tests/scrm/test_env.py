"""Configuration comes from the environment and a bad value stops start-up with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scrm import env

ROOT = Path(__file__).resolve().parents[2]


def test_database_url_parsed_with_socket_and_options():
    db = env.parse_database_url("postgres://u:p%40ss@/siyu?host=/tmp/run&port=5433&sslmode=disable")
    assert db["NAME"] == "siyu"
    assert db["USER"] == "u"
    assert db["PASSWORD"] == "p@ss"
    assert db["HOST"] == "/tmp/run"
    assert db["PORT"] == "5433"
    assert db["OPTIONS"] == {"sslmode": "disable"}


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("mysql://u@h/db", "scheme 'mysql'"),
        ("postgres://u@h:5432/", "database name is missing"),
        ("postgres://u@h:port/db", "port is not a number"),
        ("just-a-string", "scheme"),
    ],
)
def test_bad_database_url_names_the_variable(url, fragment):
    with pytest.raises(env.SettingsError) as info:
        env.parse_database_url(url)
    assert str(info.value).startswith("DATABASE_URL")
    assert fragment in str(info.value)


def test_bool_and_int_errors_name_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(env.SettingsError, match="^DEBUG: expected true or false"):
        env.get_bool("DEBUG", False)
    monkeypatch.setenv("DB_CONN_MAX_AGE", "-1")
    with pytest.raises(env.SettingsError, match="^DB_CONN_MAX_AGE: must be at least 0"):
        env.get_int("DB_CONN_MAX_AGE", 60, minimum=0)


def test_file_variant_reads_secret_from_file(tmp_path, monkeypatch):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-from-file\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
    assert env.get_str("SECRET_KEY") == "s3cr3t-from-file"
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(env.SettingsError, match="^SECRET_KEY_FILE: cannot read"):
        env.get_str("SECRET_KEY")


def test_redis_unix_socket_becomes_kombu_url():
    assert env.celery_broker_url("unix:///var/run/r.sock?db=3") == "redis+socket:///var/run/r.sock?virtual_host=3"
    assert env.celery_broker_url("redis://h:6379/0") == "redis://h:6379/0"


# Reaches both servers, so manage.py prepares them as for any command that uses them.
USE_SERVERS = (
    "from django.core.cache import cache; from django.db import connection; "
    "connection.ensure_connection(); cache.get('probe'); print(connection.settings_dict['HOST'])"
)


def _manage(extra_env: dict, *args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    environment.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", *(args or ("check",))],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({"SIYU_ENV": "production", "DATABASE_URL": "postgres://u@h/db", "REDIS_URL": "redis://h:6379/0",
          "ALLOWED_HOSTS": "scrm.example.com"}, "SECRET_KEY is required but not set"),
        ({"SIYU_ENV": "production", "SECRET_KEY": "x" * 50, "REDIS_URL": "redis://h:6379/0",
          "ALLOWED_HOSTS": "scrm.example.com"}, "DATABASE_URL is required but not set"),
        ({"DATABASE_URL": "mysql://u@h/db", "REDIS_URL": "redis://h:6379/0"}, "DATABASE_URL: expected postgres://"),
        ({"SIYU_ENV": "staging"}, "SIYU_ENV: expected one of development, production, test"),
        ({"SIYU_ENV": "production", "SECRET_KEY": "short", "DATABASE_URL": "postgres://u@h/db",
          "REDIS_URL": "redis://h:6379/0", "ALLOWED_HOSTS": "x"}, "SECRET_KEY: must be at least 32 characters"),
    ],
)
def test_bad_settings_stop_startup_with_one_line(variables, expected):
    result = _manage(variables)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_configured_servers_are_used_instead_of_embedded(tmp_path):
    """With DATABASE_URL and REDIS_URL set, nothing embedded is started (the scratch data folder stays
    empty) and commands talk to the given servers."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@/{db['NAME']}?host={db['HOST']}&port={db['PORT']}"
    scratch = tmp_path / "unused-var"
    configured = {"DATABASE_URL": url, "REDIS_URL": os.environ["REDIS_URL"], "SIYU_DATA_DIR": str(scratch)}
    result = _manage(configured, "shell", "-c", USE_SERVERS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == db["HOST"]
    assert not (scratch / "postgres").exists()
    assert not (scratch / "redis").exists()
