"""The embedded PostgreSQL and Redis: shared by every process that needs them, stopped by the
last one to leave, data kept between runs. Runs real servers in a scratch data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scrm import embedded

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys
from scrm import embedded
embedded.attach()
print("attached", flush=True)
sys.stdin.readline()
"""

CLIENT = """
import os, sys, psycopg2, redis
from scrm import embedded
embedded.attach()
conn = psycopg2.connect(os.environ["DATABASE_URL"])
conn.autocommit = True
cur = conn.cursor()
cur.execute(sys.argv[1])
print(cur.fetchone()[0] if cur.description else "done")
redis.Redis.from_url(os.environ["REDIS_URL"]).set("k", "v")
conn.close()
"""


@pytest.fixture
def scratch_env(tmp_path, monkeypatch):
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SIYU_EMBEDDED")}
    environment["SIYU_DATA_DIR"] = str(tmp_path / "var")
    environment["PYTHONPATH"] = str(ROOT)
    monkeypatch.setenv("SIYU_DATA_DIR", environment["SIYU_DATA_DIR"])
    yield environment
    embedded.stop_all()


def _client(environment, sql):
    result = subprocess.run(
        [sys.executable, "-c", CLIENT, sql], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_servers_are_shared_and_stopped_by_the_last_process(scratch_env):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], env=scratch_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "attached"
        # A one-off process uses the running servers and leaves them running for the holder.
        assert _client(scratch_env, "CREATE TABLE kept (id int)") == "done"
        assert embedded.Postgres().running()
        assert embedded.Redis().running()
        assert _client(scratch_env, "SELECT count(*) FROM pg_extension WHERE extname = 'plpgsql'") == "1"
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=60)
    assert not embedded.Postgres().running()
    assert not embedded.Redis().running()
    # Data survives a restart, and a lone process starts and stops the servers itself.
    assert _client(scratch_env, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'kept'") == "1"
    assert not embedded.Postgres().running()
    assert (Path(scratch_env["SIYU_DATA_DIR"]) / "redis" / "dump.rdb").exists()


def test_production_never_starts_embedded_servers(scratch_env, monkeypatch):
    monkeypatch.setenv("SIYU_ENV", "production")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert embedded.attach() == {}
    assert not embedded.Postgres().running()


def _run(environment, *args, timeout=120):
    result = subprocess.run([*args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout


USES_DATABASE = (
    "from django.db import connection; connection.ensure_connection(); print(connection.settings_dict['HOST'])"
)


def test_entry_points_start_the_servers_the_settings_point_at(scratch_env):
    """Importing the settings starts nothing; manage.py (for a command that uses the database) and the
    WSGI app start the servers, use the socket the settings named, and the last to leave stops them."""
    run_dir = embedded.Postgres().socket_dir
    status = _run(scratch_env, sys.executable, "manage.py", "embedded")
    assert "PostgreSQL: stopped" in status and "Redis:      stopped" in status
    assert not (Path(scratch_env["SIYU_DATA_DIR"]) / "postgres").exists()

    out = _run(scratch_env, sys.executable, "manage.py", "shell", "-c", USES_DATABASE)
    assert out.strip().splitlines()[-1] == str(run_dir)
    assert (Path(scratch_env["SIYU_DATA_DIR"]) / "postgres" / "data" / "PG_VERSION").exists()
    assert not embedded.Postgres().running()
    assert not embedded.Redis().running()

    wsgi = "import scrm.wsgi; " + USES_DATABASE
    assert _run(scratch_env, sys.executable, "-c", wsgi).strip() == str(run_dir)
    assert not embedded.Postgres().running()


def test_celery_worker_and_beat_prepare_the_servers(monkeypatch):
    from celery import signals

    import scrm.celery  # noqa: F401 - connects the handlers

    calls = []
    monkeypatch.setattr(embedded, "prepare", lambda: calls.append("prepare") or {})
    signals.beat_init.send(sender=object())
    assert calls == ["prepare"]
