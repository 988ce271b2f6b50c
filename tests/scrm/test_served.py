"""The web app as `siyu.py up` serves it: gunicorn with WhiteNoise, against the test database.
Fifty clients at once all get their answer (runserver reset connections at that load), the
stylesheet comes with the page, and an unknown page is the product's own 404, not Django's debug page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection

from scrm.management.commands.up import web_command

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    host = db.get("HOST") or "localhost"
    if host.startswith("/"):
        return f"postgres://{db['USER']}@/{db['NAME']}?host={host}&port={db.get('PORT') or 5432}"
    return f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def served():
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "false",
        "PYTHONUNBUFFERED": "1",
    }
    cmd = web_command(sys.executable, "127.0.0.1", port, workers=2, threads=8)
    proc = subprocess.Popen(cmd, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited: {proc.stdout.read().decode()[-2000:]}")
        try:
            if _get(f"{base}/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("gunicorn did not answer /healthz within 60 s")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_web_command_is_gunicorn():
    cmd = web_command("python", "127.0.0.1", 8000, workers=2, threads=8)
    assert cmd[:3] == ["python", "-m", "gunicorn"]
    assert "runserver" not in cmd


def test_fifty_simultaneous_clients_all_answered(served):
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: _get(f"{served}/accounts/login/"), range(50)))
    statuses = [status for status, _ in results]
    assert statuses == [200] * 50


def test_static_files_and_own_error_pages(served):
    status, body = _get(f"{served}/accounts/login/")
    assert status == 200
    assert b"/static/siyu/siyu.css" in body
    status, css = _get(f"{served}/static/siyu/siyu.css")
    assert status == 200 and len(css) > 100
    status, body = _get(f"{served}/no-such-page/")
    assert status == 404
    assert b"Technical details" not in body and b"Using the URLconf" not in body
