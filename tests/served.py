"""The web app served as `siyu.py up` serves it (gunicorn, WhiteNoise) over the test database, for
tests that talk to it over HTTP like a browser, an integrator or a fuzzer would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connection

from scrm.management.commands.up import web_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    host = db.get("HOST") or "localhost"
    if host.startswith("/"):
        return f"postgres://{db['USER']}@/{db['NAME']}?host={host}&port={db.get('PORT') or 5432}"
    return f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextmanager
def gunicorn(*, threads: int = 8, env: dict | None = None) -> Iterator[str]:
    """Serve the app on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "false",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    cmd = web_command(sys.executable, "127.0.0.1", port, workers=2, threads=threads)
    # Its output goes to a file, not a pipe: a fuzzer's thousands of access-log lines would fill a
    # pipe nobody reads and stall the server.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=settings.BASE_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"gunicorn exited: {log.read().decode(errors='replace')[-2000:]}")
                try:
                    if get(f"{base}/healthz")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.2)
            else:
                pytest.fail("gunicorn did not answer /healthz within 60 s")
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
