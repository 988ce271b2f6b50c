#!/usr/bin/env python3
"""Siyu's two commands, runnable with nothing but Python 3.11+ and git.

    python3 siyu.py up      # install, migrate, seed demo data, run web + worker + beat
    python3 siyu.py test    # install, then lint, layer contract, system checks, migrations check, tests
                            # (in parallel on every core; `python3 siyu.py test -n 0` in one process)

Both create `.venv/` on first use and install the pinned dependencies from
`requirements.lock`. Without DATABASE_URL / REDIS_URL they run an embedded
PostgreSQL and an embedded Redis whose data lives under `var/`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def say(msg: str) -> None:
    print(f"siyu: {msg}", flush=True)


def ensure_venv() -> None:
    """Create .venv and install requirements.lock when it changed since the last install."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs on whatever python3 the user has
        sys.exit("siyu: Python 3.11 or newer is required")
    if not PY.exists():
        say("creating .venv")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    stamp = VENV / ".siyu-lock-hash"
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    say("installing dependencies from requirements.lock (first run takes a minute)")
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(LOCK)], check=True)
    stamp.write_text(digest)


def manage(*args: str, env: dict | None = None) -> None:
    subprocess.run([str(PY), "manage.py", *args], cwd=ROOT, check=True, env=env)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_chromium() -> str:
    """The browser tests drive a real Chromium; install Debian's when we can."""
    path = os.environ.get("SIYU_CHROMIUM") or find_chromium()
    if path:
        return path
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing Chromium for the browser tests (apt-get install chromium)")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        path = find_chromium()
        if path:
            return path
    sys.exit(
        "siyu: the browser tests need Chromium: install it (Debian/Ubuntu: apt-get install chromium; "
        "macOS: brew install --cask chromium) or point SIYU_CHROMIUM at a Chromium/Chrome binary"
    )


def pytest_args(extra: list[str]) -> list[str]:
    """The suite runs in parallel (pytest-xdist, one test database per worker) on as many workers
    as the machine has cores (SIYU_TEST_WORKERS overrides). Choosing the workers yourself (-n N,
    --numprocesses) or one process (`-n 0`, `-p no:xdist`) leaves that to you."""
    chosen = any(
        a in ("-n", "--numprocesses", "no:xdist", "-pno:xdist", "--dist")
        or a.startswith(("--numprocesses=", "--dist="))
        or (a.startswith("-n") and a[2:].isdigit())
        for a in extra
    )
    if chosen:
        return extra
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = os.environ.get("SIYU_TEST_WORKERS") or str(cores)
    return ["-n", workers, *extra]


def run_test(extra: list[str]) -> int:
    ensure_venv()
    env = {**os.environ, "SIYU_CHROMIUM": ensure_chromium()}
    steps = [
        ("ruff", [str(BIN / "ruff"), "check", "."]),
        ("layer contract (import-linter)", [str(BIN / "lint-imports"), "--no-cache"]),
        ("django system checks", [str(PY), "manage.py", "check", "--fail-level", "WARNING"]),
        ("migrations are up to date", [str(PY), "manage.py", "makemigrations", "--check", "--dry-run"]),
        ("test suite", [str(PY), "-m", "pytest", *pytest_args(extra)]),
    ]
    for title, cmd in steps:
        say(f"== {title}")
        result = subprocess.run(cmd, cwd=ROOT, env=env)
        if result.returncode != 0:
            say(f"FAILED: {title}")
            return result.returncode
    say("all checks passed")
    return 0


def run_up(extra: list[str]) -> int:
    """Bring the whole product up in the foreground; Ctrl-C stops everything cleanly."""
    ensure_venv()
    # `manage.py up` owns the embedded services and the web/worker/beat processes.
    proc = subprocess.Popen([str(PY), "manage.py", "up", *extra], cwd=ROOT)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # The child got the same SIGINT from the terminal; give it time to stop its children.
        try:
            return proc.wait(timeout=60)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            proc.send_signal(signal.SIGTERM)
            return proc.wait()


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    command, extra = argv[0], argv[1:]
    started = time.monotonic()
    if command == "up":
        return run_up(extra)
    if command == "test":
        code = run_test(extra)
        say(f"took {time.monotonic() - started:.0f} s")
        return code
    if command == "manage":
        ensure_venv()
        return subprocess.run([str(PY), "manage.py", *extra], cwd=ROOT).returncode
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
