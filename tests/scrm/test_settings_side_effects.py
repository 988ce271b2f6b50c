"""Importing the settings (django.setup()) starts no server and writes nothing, even with no data
folder yet: the servers and the per-checkout secret key come from the entry points."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from scrm import embedded

ROOT = Path(__file__).resolve().parents[2]
SETUP = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DATABASES['default']['HOST']); print(settings.REDIS_URL); print(settings.SECRET_KEY)"
)


@pytest.fixture
def bare_env(tmp_path, monkeypatch):
    """A development environment with no servers configured and an empty data folder."""
    data = tmp_path / "data"
    data.mkdir()
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SECRET_KEY_FILE", "SIYU_EMBEDDED", "SIYU_ENV")
    }
    environment.update(
        SIYU_DATA_DIR=str(data),
        DJANGO_SETTINGS_MODULE="scrm.settings",
        PYTHONPATH=str(ROOT),
        PYTHONDONTWRITEBYTECODE="1",  # a fresh checkout's first import would write __pycache__ otherwise
    )
    monkeypatch.setenv("SIYU_DATA_DIR", str(data))  # so embedded.* below name the same paths
    return environment


def _setup(environment) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", SETUP], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _server_processes(*paths: Path) -> set[tuple[int, str]]:
    """Processes whose command line names one of `paths` (the scratch servers would: -D, --unixsocket)."""
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(str(path) in cmdline for path in paths):
            found.add((int(entry.name), cmdline))
    return found


def test_django_setup_starts_no_server_and_creates_nothing(bare_env):
    data = Path(bare_env["SIYU_DATA_DIR"])
    run_dir = embedded.Postgres().socket_dir
    var = ROOT / "var"
    before = (_tree(data), _listing(var), _listing(var / "run"), _server_processes(data, run_dir))

    host, redis_url, _key = _setup(bare_env)

    # The settings point at the embedded servers' sockets...
    assert host == str(run_dir)
    assert redis_url == f"unix://{run_dir / 'redis.sock'}?db=0"
    # ...and nothing was started or written, neither in the data folder nor in the checkout's var/.
    assert _tree(data) == before[0] == set()
    assert not run_dir.exists()
    assert _listing(var) == before[1]
    assert _listing(var / "run") == before[2]
    assert _server_processes(data, run_dir) == before[3] == set()
    assert not embedded.Postgres().running()
    assert not embedded.Redis().running()


def test_without_the_key_file_each_process_has_a_key_it_does_not_write(bare_env):
    first, second = _setup(bare_env)[2], _setup(bare_env)[2]
    assert len(first) >= 50 and first != second
    assert not embedded.secret_key_path().exists()


def test_manage_py_creates_the_key_the_settings_then_read(bare_env):
    # `check` uses no server: it creates the key and starts nothing.
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=bare_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    path = embedded.secret_key_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _setup(bare_env)[2] == path.read_text().strip()
    assert _tree(Path(bare_env["SIYU_DATA_DIR"])) == {"secret_key"}


def test_a_configured_secret_key_wins_and_none_is_written(bare_env):
    bare_env["SECRET_KEY"] = "k" * 50
    subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=bare_env, capture_output=True, check=True)
    assert _setup(bare_env)[2] == "k" * 50
    assert not embedded.secret_key_path().exists()
