"""Bring the whole product up in the foreground: migrate, seed the demo brand, then run the web
app, a Celery worker and Celery beat until Ctrl-C, which stops every process cleanly (and the
embedded PostgreSQL and Redis, when this process started them). With none of the WeCom corp's
settings given, the local WeCom server runs beside them as the demo's corp."""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from scrm import demo

WECOM_CREDENTIALS = ("WECOM_CORP_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY")


def wecom_configured(environ) -> bool:
    """A real corp is configured when any of its settings is given (the page says which are missing)."""
    return any(environ.get(name) for name in WECOM_CREDENTIALS)


def local_wecom_env(host: str, port: int) -> dict[str, str]:
    """Credentials made up for this run of the local WeCom server, and its address (the AES key as
    WeCom makes one: 32 random bytes in base64 without the trailing "=")."""
    return {
        "WECOM_API_BASE": f"http://{host}:{port}",
        "WECOM_CORP_ID": "ww" + secrets.token_hex(8),
        "WECOM_SECRET": secrets.token_urlsafe(32),
        "WECOM_TOKEN": secrets.token_hex(16),
        "WECOM_AES_KEY": base64.b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("="),
    }


def wecom_server_command(python: str, host: str, port: int, *, callback_url: str, staff: list[str]) -> list[str]:
    """The local WeCom server; its credentials come from the WECOM_* environment."""
    cmd = [python, "manage.py", "wecom_server", "--host", host, "--port", str(port), "--callback-url", callback_url]
    if staff:
        cmd += ["--staff", ",".join(staff)]
    return cmd


def _local_sms(host: str, port: int) -> tuple[list[str], dict[str, str]]:
    key = secrets.token_urlsafe(24)
    # The local provider takes what a real one's contract would (a real one's rate is the brand's setting).
    return ["--key", key], {"SIYU_SMS_URL": f"http://{host}:{port}", "SIYU_SMS_KEY": key,
                            "SIYU_SMS_RATE": os.environ.get("SIYU_SMS_RATE", "50")}


def _local_smtp(host: str, port: int) -> tuple[list[str], dict[str, str]]:
    return [], {"SIYU_SMTP_HOST": host, "SIYU_SMTP_PORT": str(port), "SIYU_SMTP_SECURITY": "none",
                "SIYU_SMTP_FROM": "Siyu demo <news@siyu-demo.example>"}


def _local_webhook(host: str, port: int) -> tuple[list[str], dict[str, str]]:
    secret = secrets.token_urlsafe(24)
    return ["--secret", secret], {"SIYU_WEBHOOK_URL": f"http://{host}:{port}/hooks/siyu", "SIYU_WEBHOOK_SECRET": secret}


def _local_events(host: str, port: int) -> tuple[list[str], dict[str, str]]:
    # The demo integration's receiver (webhooks.receiver): it checks each delivery's signature with the
    # secret the demo subscription is given, and keeps what it took in var/ across restarts.
    secret = "whsec_" + secrets.token_urlsafe(32)
    record = str(settings.BASE_DIR / "var" / "demo-events-received.jsonl")
    return ["--secret", secret, "--record", record], {
        "SIYU_DEMO_EVENT_RECEIVER_URL": f"http://{host}:{port}/siyu/events",
        "SIYU_DEMO_EVENT_RECEIVER_SECRET": secret,
    }


# name -> (module run with --host/--port, the settings that mean a real one is configured, its setup)
LOCAL_PROVIDERS = {
    "sms": ("campaigns.fake.sms", ("SIYU_SMS_URL", "SIYU_SMS_KEY"), _local_sms),
    "smtp": ("campaigns.fake.smtp", ("SIYU_SMTP_HOST",), _local_smtp),
    "hook": ("campaigns.fake.webhook", ("SIYU_WEBHOOK_URL",), _local_webhook),
    "events": ("webhooks.receiver", ("SIYU_DEMO_EVENT_RECEIVER_URL",), _local_events),
}


def local_callback_url(host: str, port: int) -> str:
    """Where the local WeCom server posts its callbacks: the web app's /wecom/callback/ (on loopback
    when the web app listens on every interface)."""
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        unspecified = False
    return f"http://{'127.0.0.1' if unspecified else host}:{port}/wecom/callback/"


def demo_staff_usernames() -> list[str]:
    """The store staff, who are the local WeCom server's staff (userid = username)."""
    from scrm.models import Role, User

    staff = User.objects.filter(role__in=(Role.STORE_MANAGER, Role.STORE_STAFF), is_active=True, store__isnull=False)
    return list(staff.order_by("username").values_list("username", flat=True))


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for_port(host: str, port: int, *, alive, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def web_command(python: str, host: str, port: int, *, workers: int, threads: int) -> list[str]:
    """The web app served as in the Docker image: gunicorn, static files by WhiteNoise."""
    return [
        python,
        "-m",
        "gunicorn",
        "scrm.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "60",
        "--graceful-timeout",
        "20",
        "--access-logfile",
        "-",
    ]


class Command(BaseCommand):
    help = "Run migrations, seed demo data and start web + worker + beat (Ctrl-C stops all)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("SIYU_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("SIYU_PORT", "8000")))
        parser.add_argument("--members", type=int, default=2000, help="demo members to seed (0 to skip seeding)")
        parser.add_argument("--no-seed", action="store_true", help="do not create demo data")
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
        parser.add_argument(
            "--web-workers",
            type=int,
            default=int(os.environ.get("SIYU_WEB_WORKERS", "2")),
            help="gunicorn worker processes (each with --web-threads threads)",
        )
        parser.add_argument("--web-threads", type=int, default=int(os.environ.get("SIYU_WEB_THREADS", "8")))

    def handle(self, *args, host, port, members, no_seed, concurrency, web_workers, web_threads, **options):
        started = time.monotonic()
        self.stdout.write("siyu: applying migrations")
        call_command("migrate", interactive=False, verbosity=0)
        logins = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # carries the embedded DATABASE_URL/REDIS_URL
        supervisor = Supervisor(self.stdout)
        seeding_demo = not no_seed and members >= 0
        if seeding_demo:
            seeding = time.monotonic()
            result = demo.seed()
            logins = result.logins
        try:
            env.update(self._start_local_wecom(supervisor, env, host, port))
            env.update(self._start_local_providers(supervisor, env))
            if seeding_demo:
                apps = demo.seed_apps(members=members)
        except BaseException:
            supervisor.stop_all(order=["wecom", *LOCAL_PROVIDERS])
            raise
        if seeding_demo:
            self.stdout.write(
                f"siyu: demo brand ready ({result.stores} stores, {result.staff} staff) "
                f"in {time.monotonic() - seeding:.1f} s"
            )
            for app, summary in apps:
                self.stdout.write(f"siyu: demo {app}: {summary.removeprefix(app + ': ')}")
        python = sys.executable
        beat_schedule = str(settings.BASE_DIR / "var" / "celerybeat-schedule")
        os.makedirs(os.path.dirname(beat_schedule), exist_ok=True)
        os.makedirs(settings.STATIC_ROOT, exist_ok=True)  # WhiteNoise warns when it is missing
        specs = [
            ("web", web_command(python, host, port, workers=web_workers, threads=web_threads)),
            (
                "worker",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "scrm",
                    "worker",
                    "-l",
                    "INFO",
                    "--concurrency",
                    str(concurrency),
                    "-Q",
                    "default",
                    "-n",
                    "worker@%h",
                ],
            ),
            ("beat", [python, "-m", "celery", "-A", "scrm", "beat", "-l", "INFO", "-s", beat_schedule]),
        ]
        # Served like production: error pages are the product's own, not Django's debug pages
        # (DEBUG=true in the environment brings those back).
        env.setdefault("DEBUG", "false")
        stop = threading.Event()

        def on_signal(signum, frame):
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        for name, cmd in specs:
            supervisor.start(name, cmd, env=env, cwd=str(settings.BASE_DIR))

        self._print_banner(host, port, logins, time.monotonic() - started)
        exit_code = 0
        while not stop.is_set():
            dead = supervisor.first_dead()
            if dead:
                self.stderr.write(f"siyu: {dead} stopped unexpectedly; shutting everything down")
                exit_code = 1
                break
            stop.wait(0.5)
        self.stdout.write("siyu: stopping web, beat and worker")
        supervisor.stop_all(order=["web", "beat", "worker", "wecom", *LOCAL_PROVIDERS])
        self.stdout.write("siyu: stopped")
        if exit_code:
            sys.exit(exit_code)

    def _start_local_wecom(self, supervisor, env, host, port) -> dict[str, str]:
        """Start the local WeCom server unless a real corp is configured; the WECOM_* settings the
        web app, worker and beat (and this process, for the demo) then use."""
        if wecom_configured(env):
            self.stdout.write(
                "siyu: WeCom: using the corp configured in WECOM_*; the local WeCom server is not started"
            )
            return {}
        wecom_host = "127.0.0.1"
        wecom_port = free_port(wecom_host)
        wecom_env = local_wecom_env(wecom_host, wecom_port)
        callback_url = local_callback_url(host, port)
        cmd = wecom_server_command(
            sys.executable, wecom_host, wecom_port, callback_url=callback_url, staff=demo_staff_usernames()
        )
        supervisor.start("wecom", cmd, env={**env, **wecom_env}, cwd=str(settings.BASE_DIR))
        if not wait_for_port(wecom_host, wecom_port, alive=lambda: supervisor.first_dead() is None):
            raise CommandError("the local WeCom server did not start (see its output above)")
        os.environ.update(wecom_env)
        for name, value in wecom_env.items():
            setattr(settings, name, value)
        self.stdout.write(
            f"siyu: WeCom: no WECOM_* settings, so the local WeCom server runs at {wecom_env['WECOM_API_BASE']} "
            f"(corp {wecom_env['WECOM_CORP_ID']}, callbacks to {callback_url})"
        )
        return wecom_env

    def _start_local_providers(self, supervisor, env) -> dict[str, str]:
        """Start a local SMS provider, SMTP server and webhook receiver (campaigns.fake) for each
        campaign channel whose settings are not given, so every channel can be tried in the demo, and
        the demo integration's event receiver (webhooks.receiver); the settings that point the web
        app, worker and beat at them."""
        provider_env: dict[str, str] = {}
        host = "127.0.0.1"
        for name, (module, needs, make) in LOCAL_PROVIDERS.items():
            if any(env.get(setting) for setting in needs):
                self.stdout.write(f"siyu: {name}: using {needs[0]} from the environment")
                continue
            port = free_port(host)
            args, values = make(host, port)
            supervisor.start(name, [sys.executable, "-m", module, "--host", host, "--port", str(port), *args],
                             env=env, cwd=str(settings.BASE_DIR))
            if not wait_for_port(host, port, alive=lambda: supervisor.first_dead() is None):
                raise CommandError(f"the local {name} server did not start (see its output above)")
            provider_env.update(values)
            self.stdout.write(f"siyu: {name}: no {needs[0]}, so a local one runs at {host}:{port}")
        os.environ.update(provider_env)
        for setting, value in provider_env.items():
            setattr(settings, setting, value)
        return provider_env

    def _print_banner(self, host, port, logins, seconds):
        base = f"http://{host}:{port}"
        lines = [
            "",
            f"Siyu is starting at {base}  (ready in a few seconds; Ctrl-C stops everything)",
            f"  dashboard      {base}/",
            f"  staff phone    {base}/m/",
            f"  API            {base}/api/v1/   docs {base}/api/docs/",
            f"  health         {base}/healthz",
        ]
        if os.environ.get("SIYU_EMBEDDED"):
            lines.append(f"  embedded       {os.environ['SIYU_EMBEDDED']} under {settings.BASE_DIR / 'var'}")
        if logins:
            lines.append("  demo logins:")
            lines += [f"    {user:<14} {pw}" for _role, user, pw in logins]
        lines.append(f"  (prepared in {seconds:.1f} s)")
        lines.append("")
        self.stdout.write("\n".join(lines))


class Supervisor:
    """Runs child processes in their own sessions, prefixing their output with their name."""

    def __init__(self, out):
        self.out = out
        self.procs: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()

    def start(self, name, cmd, **kwargs):
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
            text=True,
            bufsize=1,
            **kwargs,
        )
        self.procs[name] = proc
        threading.Thread(target=self._pump, args=(name, proc), daemon=True).start()

    def _pump(self, name, proc):
        for line in proc.stdout:
            with self.lock:
                sys.stdout.write(f"{name:<6} | {line}")
                sys.stdout.flush()

    def first_dead(self) -> str | None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return name
        return None

    def stop_all(self, order):
        for name in order:
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)  # Celery: warm shutdown, finishing the task in hand
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
