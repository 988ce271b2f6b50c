"""The web app as `siyu.py up` serves it: gunicorn with WhiteNoise, against the test database.
Fifty clients at once all get their answer (runserver reset connections at that load), the
stylesheet comes with the page, and an unknown page is the product's own 404, not Django's debug page."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from scrm.management.commands.up import web_command
from tests.served import get, gunicorn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served():
    with gunicorn(threads=8) as base:
        yield base


def test_web_command_is_gunicorn():
    cmd = web_command("python", "127.0.0.1", 8000, workers=2, threads=8)
    assert cmd[:3] == ["python", "-m", "gunicorn"]
    assert "runserver" not in cmd


def test_fifty_simultaneous_clients_all_answered(served):
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: get(f"{served}/accounts/login/"), range(50)))
    statuses = [status for status, _ in results]
    assert statuses == [200] * 50


def test_static_files_and_own_error_pages(served):
    status, body = get(f"{served}/accounts/login/")
    assert status == 200
    assert b"/static/siyu/siyu.css" in body
    status, css = get(f"{served}/static/siyu/siyu.css")
    assert status == 200 and len(css) > 100
    status, body = get(f"{served}/no-such-page/")
    assert status == 404
    assert b"Technical details" not in body and b"Using the URLconf" not in body
