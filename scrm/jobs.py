"""Background file jobs: the plumbing every kind of job shares (member imports, order imports).

A job is a row with its uploaded `file`, who uploaded it (`created_by`, `api_key`,
`created_by_label`), `status`, `attempts`, `created_at`, `started_at`, `finished_at` and an outcome
(`message_code`, `message_params`, `message`); a dry run is imported once (`commit_of`,
`can_commit`). An attempt holds the job's advisory lock while it runs and claims the job with one
conditional UPDATE; it shows progress through a second connection, so a page sees it while the
job's own transaction is open; every statement is bounded by what is left of the job's time (SET
LOCAL statement_timeout); and the sweeper puts a job whose worker died back to pending while it has
attempts left, or fails it saying why. What a job does, and how its outcome is worded, stays with
the app that owns it."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import F, Model
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from scrm import files
from scrm.errors import Conflict

QUERY_CANCELED = "57014"  # SQLSTATE of a statement stopped by statement_timeout (or cancelled)
LOG_MAX = 2000  # characters of an error's message or trace a log line keeps
SWEEP_BATCH = 100  # jobs the sweeper looks at per state and run


@dataclass(frozen=True)
class JobKind:
    """One kind of job: its model, the statuses it moves through, its lock, its settings and how a
    job is sent to a worker. Settings are read when used: `<prefix>_MAX_ATTEMPTS` (2),
    `<prefix>_TIME_LIMIT` (CELERY_TASK_TIME_LIMIT, 1800 s) and `<prefix>_INLINE_SECONDS` (30)."""

    model: type[Model]
    label: str  # the job in a log line: "import", "order import"
    logger: logging.Logger  # where its log lines go (the owning app's)
    lock_class: int  # advisory lock (lock_class, job id): held by the attempt running a job
    settings_prefix: str
    pending: str
    claimed: str  # the status a claim moves a job to
    started: tuple[str, ...]  # the statuses of a job an attempt took and has not ended
    failed: str
    queue: Callable[[int], None]  # send job id to a worker
    run: Callable[..., Model | None]  # run(job_id=…, inline=…): one attempt, where it is called
    abandoned_counts: dict = field(default_factory=dict)  # what a job given up resets (nothing was written)

    def _setting(self, name: str, default):
        return getattr(settings, f"{self.settings_prefix}_{name}", default)

    def max_attempts(self) -> int:
        """How many times a job is started before it is given up (a worker killed half-way)."""
        return max(int(self._setting("MAX_ATTEMPTS", 2)), 1)

    def task_time_limits(self) -> tuple[int, int]:
        """(soft, hard) seconds of the worker task that runs one job."""
        hard = int(self._setting("TIME_LIMIT", getattr(settings, "CELERY_TASK_TIME_LIMIT", 1800)))
        return max(hard - 60, int(hard * 0.8)), hard

    def time_budget(self, *, inline: bool) -> float:
        """Seconds a job's statements may take in all: inside a request, a few; in a worker, what
        its soft time limit leaves to record the outcome."""
        if inline:
            return float(self._setting("INLINE_SECONDS", 30))
        soft, _hard = self.task_time_limits()
        return float(max(soft - 30, soft * 0.8))


# --- a job's upload ----------------------------------------------------------------------------


def uploader_fields(model: type[Model], actor) -> dict:
    """Who a job is run as: a user, or an API key (named in `created_by_label`, cut to the field)."""
    api_key = getattr(actor, "api_key", None)
    if api_key is None:
        return {"created_by": actor, "api_key": None, "created_by_label": ""}
    label = f"API key {api_key.name}"[: model._meta.get_field("created_by_label").max_length]
    return {"created_by": None, "api_key": api_key, "created_by_label": label}


def uploader(job: Model):
    """The actor a job runs as and writes in the name of: its API key, or the user who uploaded it."""
    from scrm.api.auth import ApiPrincipal

    return ApiPrincipal(job.api_key) if job.api_key is not None else job.created_by


def uploader_language() -> str:
    """The language a job's outcome and error report are written in: the uploader's, now."""
    return translation.get_language() or settings.LANGUAGE_CODE


def save_upload(job: Model, upload, *, name: str) -> Model:
    """Keep the uploaded file under a name that will not collide, and the job with it."""
    job.file.save(f"{timezone.now():%d%H%M%S}-{name}", upload, save=False)
    job.save()
    return job


def commit_once(model: type[Model], dry_run_id: int, *, actor, mode: Callable[[Model], str],
                not_committable: str) -> tuple[Model, bool]:
    """The import of a finished dry run, from the file it checked, in `mode(dry_run)`: created once
    however often it is asked (a double click, a retried request), in the caller's transaction:
    (the import, whether it was created now). Conflict `not_committable` for a job that is no
    finished dry run with valid rows."""
    dry_run = model.objects.select_for_update().get(pk=dry_run_id)
    existing = model.objects.filter(commit_of=dry_run).first()
    if existing is not None:
        return existing, False
    if not dry_run.can_commit:
        raise Conflict(not_committable)
    if not dry_run.file or not dry_run.file.storage.exists(dry_run.file.name):
        raise Conflict(_("The checked file is no longer kept; upload it again."))
    commit = model.objects.create(
        file=dry_run.file.name, original_name=dry_run.original_name, size_bytes=dry_run.size_bytes,
        format=dry_run.format, encoding=dry_run.encoding, store_id=dry_run.store_id, commit_of=dry_run,
        mode=mode(dry_run), language=uploader_language(), **uploader_fields(model, actor),
    )
    return commit, True


def start(kind: JobKind, job: Model, *, inline: bool) -> None:
    """Run a small file now (`inline`), in the request that uploaded it; queue a larger one for a
    worker once the job is committed."""
    if inline:
        kind.run(job_id=job.pk, inline=True)
        job.refresh_from_db()
        return
    transaction.on_commit(lambda: kind.queue(job.pk))


# --- the lock ------------------------------------------------------------------------------------


def try_lock(lock_class: int, key: int) -> bool:
    """Take advisory lock (lock_class, key) on this connection until unlock(): PostgreSQL lets it go
    when the connection ends, however its holder died."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [lock_class, key])
        return cursor.fetchone()[0]


def unlock(lock_class: int, key: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [lock_class, key])


def try_transaction_lock(lock_class: int, key: int) -> bool:
    """Take advisory lock (lock_class, key) until this transaction ends; False while another
    connection holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [lock_class, key])
        return cursor.fetchone()[0]


# --- an attempt ----------------------------------------------------------------------------------


def claim(kind: JobKind, job_id: int) -> bool:
    """Take a pending job that has attempts left, with one conditional UPDATE."""
    return bool(
        kind.model.objects.filter(pk=job_id, status=kind.pending, attempts__lt=kind.max_attempts())
        .update(status=kind.claimed, started_at=timezone.now(), finished_at=None, attempts=F("attempts") + 1)
    )


@contextmanager
def attempt(kind: JobKind, job_id: int) -> Iterator[bool]:
    """Hold the job's lock and claim it for the block: True when this attempt runs the job, False
    when another attempt holds it or it is not pending with attempts left."""
    if not try_lock(kind.lock_class, job_id):
        yield False
        return
    try:
        yield claim(kind, job_id)
    finally:
        unlock(kind.lock_class, job_id)


@contextmanager
def running(kind: JobKind, job_id: int) -> Iterator[Model | None]:
    """The job this attempt holds and claimed (read with its store and uploader), in the language
    its outcome is worded in, for the block; None when it is not this attempt's to run."""
    with attempt(kind, job_id) as claimed:
        if not claimed:
            yield None
            return
        job = kind.model.objects.select_related("store", "created_by", "api_key").get(pk=job_id)
        with translation.override(job.language):
            yield job


def publish(kind: JobKind, job_id: int, **fields) -> None:
    """Show progress while the job's own transaction is still open: a short autocommit UPDATE on a
    second connection. Best effort: a locked or missing row is skipped."""
    table = kind.model._meta.db_table
    assignments = ", ".join(f"{name} = %s" for name in fields)
    side = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with side.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {assignments} WHERE id IN "
                f"(SELECT id FROM {table} WHERE id = %s FOR UPDATE SKIP LOCKED)",
                [*fields.values(), job_id],
            )
    except DatabaseError:
        kind.logger.warning("could not publish progress of %s %s", kind.label, job_id, exc_info=True)
    finally:
        side.close()


def log_crash(kind: JobKind, job_id: int, exc: BaseException, *, seconds: float | None = None) -> None:
    """The trace of a crash, its message cut: a database error quotes the statement's data (a COPY
    error its whole line), which may be a cell of megabytes."""
    trace = "".join(traceback.format_tb(exc.__traceback__))[-LOG_MAX:]
    after = "" if seconds is None else f" after {seconds:.1f} s"
    kind.logger.error("%s %s failed%s: %s: %s\n%s", kind.label, job_id, after, type(exc).__name__,
                      files.preview(exc, LOG_MAX), trace)


# --- the job's time ------------------------------------------------------------------------------


def bound_statements(*, ends: float, cap_ms: int | None = None, check_client_seconds: int | None = None,
                     cursor=None) -> bool:
    """Let the next statements of this transaction take only what is left until `ends` (a
    time.monotonic()), at most `cap_ms` each (SET LOCAL: this transaction only), so none outlives
    the attempt that sent it; with `check_client_seconds`, a statement whose client went away (a
    killed worker) is stopped within that time. False, setting nothing, when no time is left."""
    left = ends - time.monotonic()
    if left <= 0:
        return False
    milliseconds = left * 1000 if cap_ms is None else min(cap_ms, left * 1000)
    with _cursor(cursor) as cur:
        cur.execute(f"SET LOCAL statement_timeout = {max(int(milliseconds), 1)}")
        if check_client_seconds is not None:
            cur.execute(f"SET LOCAL client_connection_check_interval = '{int(check_client_seconds)}s'")
    return True


def lift_statement_bound(cursor=None) -> None:
    """Back to the server's statement timeout for what this transaction does next."""
    with _cursor(cursor) as cur:
        cur.execute("SET LOCAL statement_timeout TO DEFAULT")


def statement_cancelled(exc: BaseException) -> bool:
    """PostgreSQL stopped a statement (its statement_timeout ran out). A COPY's error comes from the
    driver itself, others wrapped by Django."""
    return QUERY_CANCELED in (getattr(exc, "pgcode", None), getattr(exc.__cause__, "pgcode", None))


@contextmanager
def _cursor(cursor):
    if cursor is not None:
        yield cursor
        return
    with connection.cursor() as own:
        yield own


# --- the sweeper ---------------------------------------------------------------------------------


def sweep(kind: JobKind, *, pending_for: timedelta = timedelta(minutes=2)) -> dict[str, list[int]]:
    """For the beat schedule: jobs left half-way (started, but no attempt holds their lock: its
    worker was killed or restarted) go back to pending while they have attempts left, else end
    failed saying why; jobs still pending `pending_for` after upload (a lost message) are queued
    again, or failed when out of attempts."""
    outcome: dict[str, list[int]] = {"retried": [], "failed": [], "queued": []}
    started = kind.model.objects.filter(status__in=kind.started).order_by("pk")
    for job_id in list(started.values_list("pk", flat=True)[:SWEEP_BATCH]):
        verdict = _sweep_started(kind, job_id)
        if verdict is not None:
            outcome[verdict].append(job_id)
    stale = kind.model.objects.filter(status=kind.pending, created_at__lt=timezone.now() - pending_for)
    for job_id, attempts in list(stale.order_by("pk").values_list("pk", "attempts")[:SWEEP_BATCH]):
        if job_id in outcome["retried"]:
            continue
        if attempts >= kind.max_attempts():
            give_up(kind, job_id, attempts=attempts)
            outcome["failed"].append(job_id)
        else:
            kind.queue(job_id)
            outcome["queued"].append(job_id)
    return outcome


def _sweep_started(kind: JobKind, job_id: int) -> str | None:
    """"retried" or "failed" for a started job no attempt holds; None while one is alive."""
    with transaction.atomic():
        if not try_transaction_lock(kind.lock_class, job_id):
            return None  # an attempt is alive
        job = (kind.model.objects.select_for_update(skip_locked=True)
               .filter(pk=job_id, status__in=kind.started).only("pk", "attempts").first())
        if job is None:
            return None
        if job.attempts >= kind.max_attempts():
            give_up(kind, job_id, attempts=job.attempts)
            return "failed"
        kind.model.objects.filter(pk=job_id).update(
            status=kind.pending, message_code="retrying", message="",
            message_params={"next": job.attempts + 1, "max": kind.max_attempts()})
        transaction.on_commit(lambda: kind.queue(job_id))
        return "retried"


def give_up(kind: JobKind, job_id: int, *, attempts: int) -> None:
    """End a job that stopped half-way `attempts` times failed, saying so; nothing was written."""
    kind.model.objects.filter(pk=job_id, status__in=[*kind.started, kind.pending]).update(
        status=kind.failed, message_code="abandoned", message="", message_params={"attempts": attempts},
        finished_at=timezone.now(), **kind.abandoned_counts)
