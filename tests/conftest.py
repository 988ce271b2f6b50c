"""Shared fixtures: one store pair and a named user per role (alice the operator, bob the
manager and carol the clerk of store A, dave the clerk of store B), members in both stores,
API clients and keys. Everything runs against real PostgreSQL and real Redis."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from scrm.env import celery_broker_url

TEST_REDIS_DB = 15  # apart from a running app's db 0, so a dev worker never takes test tasks


def _test_redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}?db={TEST_REDIS_DB}"
    return parts._replace(path=f"/{TEST_REDIS_DB}").geturl()


def pytest_configure(config):
    # The test run is an entry point like manage.py: importing the settings (pytest-django did, just
    # before this conftest loaded) starts nothing, so the embedded servers the settings point at
    # start here, before any test reaches the database. With DATABASE_URL and REDIS_URL set, nothing.
    from scrm import embedded

    try:
        embedded.prepare()
    except embedded.EmbeddedError as exc:
        raise pytest.UsageError(f"DATABASE_URL/REDIS_URL not set and the embedded servers failed: {exc}") from None
    # Assertions read English messages; tests of the Chinese UI ask for it (Accept-Language: zh-hans).
    settings.LANGUAGE_CODE = "en"
    from django.utils import translation
    from django.utils.translation import trans_real

    # The fallback for a thread with no language active was built while the settings' zh-hans was
    # the default (a message translated during start-up); rebuilt, it is English too.
    trans_real._default = None
    translation.activate("en")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from tests.flush import allow_audit_truncate_in_flushes

    allow_audit_truncate_in_flushes()
    settings.REDIS_URL = _test_redis_url(settings.REDIS_URL)
    settings.CACHES["default"]["LOCATION"] = settings.REDIS_URL
    settings.CACHES["default"]["KEY_PREFIX"] = f"siyu-test-{os.getpid()}"
    from scrm.celery import app

    app.conf.broker_url = celery_broker_url(settings.REDIS_URL)
    # One queue per test run, so test runs sharing a broker never take each other's tasks.
    app.conf.task_default_queue = f"siyu-test-{os.getpid()}"


# --- Parallel runs (pytest-xdist: siyu.py test) --------------------------------------------------

# The modules whose tests take minutes (a 100,000-member send, the API fuzzed over HTTP, workers
# killed and servers restarted mid-send): a parallel run starts them first, spread over the workers,
# so no worker is still on one of them long after the others ran out of tests.
LONGEST_FIRST = (
    "tests/campaigns/test_respect_mixed.py",
    "tests/scrm/test_api_fuzz.py",
    "tests/webhooks/test_reliability.py",
    "tests/campaigns/test_reliability.py",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    if not hasattr(config, "workerinput"):
        return  # one process: the order pytest collected
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: modules stay whole


def _migrations_digest() -> str:
    """What a migrated database depends on: every migration file, and Django's version."""
    import hashlib

    import django

    digest = hashlib.sha256(django.get_version().encode())
    root = Path(settings.BASE_DIR)
    for path in sorted(root.glob("*/migrations/*.py")) + sorted(root.glob("*/*/migrations/*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _migrated_template(base: str) -> str:
    """The name of a database migrated once for this run's workers to copy (CREATE DATABASE ...
    TEMPLATE), made by the first worker to get here while the others wait on the lock: a worker's
    test database is a copy of it in seconds instead of a migration of every app each."""
    import fcntl
    import subprocess
    import sys
    import tempfile

    import psycopg2
    from psycopg2 import sql

    db = settings.DATABASES["default"]
    name = f"{base}_tpl_{_migrations_digest()}"
    server = f"{db.get('HOST')}:{db.get('PORT')}".replace("/", "_")
    lock_path = Path(tempfile.gettempdir()) / f"siyu-test-template-{server}-{name}.lock"
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = psycopg2.connect(dbname="postgres", user=db.get("USER") or None, password=db.get("PASSWORD") or None,
                                host=db.get("HOST") or None, port=db.get("PORT") or None)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{base}\\_tpl\\_%"])
                existing = {row[0] for row in cursor.fetchall()}
                if name in existing:
                    return name
                for stale in existing:  # migrations changed since: their templates are of no use
                    cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(stale)))
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                url = _database_url(db, name)
                migrated = subprocess.run(
                    [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=settings.BASE_DIR,
                    env={**os.environ, "DATABASE_URL": url, "REDIS_URL": os.environ.get("REDIS_URL", "")},
                    capture_output=True, text=True)
                if migrated.returncode != 0:
                    cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                    raise pytest.UsageError(f"migrating the test template {name} failed:\n{migrated.stderr[-3000:]}")
        finally:
            conn.close()
    return name


def _database_url(db: dict, name: str) -> str:
    host = db.get("HOST") or "localhost"
    user = db.get("USER") or ""
    port = db.get("PORT") or 5432
    if host.startswith("/"):
        return f"postgres://{user}@/{name}?host={host}&port={port}"
    password = db.get("PASSWORD") or ""
    return f"postgres://{user}:{password}@{host}:{port}/{name}"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, request):
    """Each xdist worker has its own test database (pytest-django's _gw0, _gw1 suffix), a copy of
    one migrated template rather than a migration of its own."""
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if not worker or request.config.getvalue("reuse_db") or request.config.getvalue("nomigrations"):
        return
    test = settings.DATABASES["default"]["TEST"]
    test["TEMPLATE"] = _migrated_template(test["NAME"].removesuffix(f"_{worker}"))


@pytest.fixture(autouse=True)
def _clear_cache():
    """Forget this run's cached keys (not the whole Redis database: other test runs and the Celery
    broker share it)."""
    from django.core.cache import cache

    client = cache._cache.get_client(None, write=True)
    keys = list(client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000))
    if keys:
        client.delete(*keys)
    yield


@pytest.fixture(autouse=True)
def _english():
    """Every test starts in English, whatever language a request before it left active."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture
def stores(db):
    from scrm.models import Region, Store

    east = Region.objects.create(code="east", name="华东")
    north = Region.objects.create(code="north", name="华北")
    a = Store.objects.create(code="SH01", name="上海南京西路店", region=east, city="上海")
    b = Store.objects.create(code="BJ01", name="北京三里屯店", region=north, city="北京")
    return a, b


@pytest.fixture
def store_a(stores):
    return stores[0]


@pytest.fixture
def store_b(stores):
    return stores[1]


def _user(username, role, store):
    from scrm.models import User

    user = User.objects.create(username=username, role=role, store=store, display_name=username.title())
    user.set_password("pw-" + username)
    user.save()
    return user


@pytest.fixture
def alice(db):
    return _user("alice", "operator", None)


@pytest.fixture
def bob(store_a):
    return _user("bob", "store_manager", store_a)


@pytest.fixture
def carol(store_a):
    return _user("carol", "store_staff", store_a)


@pytest.fixture
def dave(store_b):
    return _user("dave", "store_staff", store_b)


@pytest.fixture
def members(store_a, store_b, carol, dave):
    from members.models import Member

    a = [
        Member.objects.create(name=f"张{i}", phone=f"+861380013{i:04d}", home_store=store_a, owner=carol)
        for i in range(3)
    ]
    b = [
        Member.objects.create(name=f"李{i}", phone=f"+861390013{i:04d}", home_store=store_b, owner=dave)
        for i in range(2)
    ]
    return a, b


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def make_key(db):
    """make_key(scopes=[...], store=None, expires_at=None) -> plaintext key."""
    from scrm.services import api_keys

    def make(scopes=("members:read",), store=None, expires_at=None, name="test key"):
        return api_keys.issue(name=name, scopes=list(scopes), store=store, expires_at=expires_at).plaintext

    return make


@pytest.fixture
def key_client(api_client, make_key):
    """key_client(scopes=..., store=...) -> an APIClient sending that key."""

    def build(**kwargs):
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_key(**kwargs)}")
        return api_client

    return build


# --- Real-browser fixtures (shared by tests/e2e and the screens tests of each app) ---------------

# Playwright's sync API runs an event loop in this thread; the ORM calls our fixtures make are
# still plain synchronous calls between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _chromium_path() -> str:
    for candidate in (os.environ.get("SIYU_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("Chromium not found: install it (apt-get install chromium) or set SIYU_CHROMIUM")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def shot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name):
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker in a thread, consuming from the test broker; tasks see committed data. The
    process's queue is emptied first: a task an earlier test queued without a worker (its data gone with
    that test's flush) is not run against this test's."""
    from celery.contrib.testing.worker import start_worker

    from scrm.celery import app

    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING") as worker:
        yield worker
