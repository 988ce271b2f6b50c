"""Import jobs: accept an upload, run it (inline for small files, in a Celery worker otherwise),
record the outcome. The rows themselves go through members.io.bulk, set-based, in one transaction:
a crash or an invalid file in strict mode leaves nothing half-written."""

from __future__ import annotations

import logging
import tempfile
import time
import traceback
from datetime import timedelta
from pathlib import PurePath

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from members.io import bulk, columns, queries
from members.io.models import ImportFormat, ImportJob, ImportMode, ImportStatus
from scrm import files
from scrm.errors import Conflict, ServiceError
from scrm.models import Role
from scrm.scoping import access_for
from scrm.services import audit

logger = logging.getLogger(__name__)

FIRST_ERRORS = 200  # kept on the job; the full report is a CSV file
LOG_MAX = 2000  # characters of an error's message or trace a log line keeps
QUERY_CANCELED = "57014"  # statement_timeout (or a cancelled statement)
RUNNING_STATES = (ImportStatus.VALIDATING, ImportStatus.IMPORTING)


class ImportRefused(ServiceError):
    """An upload we do not take: a 400 naming the field in `details`, or the status given (403 for a
    role that may not import, 413 for a file over the limit)."""

    def __init__(self, message: str, *, status: int = 400, code: str = "validation_error", field: str = "file") -> None:
        self.status = status
        super().__init__(message, details={field: [message]} if status == 400 else {}, code=code)


def max_bytes() -> int:
    return int(getattr(settings, "MEMBER_IMPORT_MAX_BYTES", 200 * 1024 * 1024))


def inline_max_bytes() -> int:
    """Files up to this size run inside the request; larger ones in a worker."""
    return int(getattr(settings, "MEMBER_IMPORT_INLINE_MAX_BYTES", 512 * 1024))


def max_inflated_bytes() -> int:
    """What an XLSX may unpack to (its XML is read, however well it packs)."""
    return int(getattr(settings, "MEMBER_IMPORT_MAX_INFLATED_BYTES", 1024 * 1024 * 1024))


def inline_max_inflated_bytes() -> int:
    """An XLSX runs inside the request only when it unpacks to at most this much."""
    return int(getattr(settings, "MEMBER_IMPORT_INLINE_MAX_INFLATED_BYTES", 4 * 1024 * 1024))


def max_attempts() -> int:
    """How many times a job is started before it is given up (a worker killed half-way)."""
    return max(int(getattr(settings, "MEMBER_IMPORT_MAX_ATTEMPTS", 2)), 1)


def task_time_limits() -> tuple[int, int]:
    """(soft, hard) seconds of the worker task that runs one job."""
    hard = int(getattr(settings, "MEMBER_IMPORT_TIME_LIMIT", getattr(settings, "CELERY_TASK_TIME_LIMIT", 1800)))
    return max(hard - 60, int(hard * 0.8)), hard


def time_budget(*, inline: bool) -> float:
    """Seconds the job's statements may take in all: inside a request, a few; in a worker, what
    its soft time limit leaves to record the outcome. Every statement is bounded by what is left
    (SET LOCAL statement_timeout), so none outlives the attempt that sent it."""
    if inline:
        return float(getattr(settings, "MEMBER_IMPORT_INLINE_SECONDS", 30))
    soft, _hard = task_time_limits()
    return float(max(soft - 30, soft * 0.8))


def too_large_message(size: int) -> str:
    return _("The file is %(size)s; the limit is %(limit)s. Split it into smaller files.") % {
        "size": filesizeformat(size), "limit": filesizeformat(max_bytes())}


def can_import(actor) -> bool:
    """Operators, store managers and API keys (holding the imports scope) import; store staff do not."""
    return getattr(actor, "api_key", None) is not None or getattr(actor, "role", None) in (
        Role.OPERATOR, Role.STORE_MANAGER
    )


def check_actor(actor) -> None:
    if not can_import(actor):
        raise ImportRefused(_("Your role cannot import or export members."), status=403, code="permission_denied",
                            field="non_field_errors")
    access = access_for(actor)
    if not access.all_stores and access.store_id is None:
        raise ImportRefused(_("Your account is not bound to a store."), status=403, code="permission_denied",
                            field="non_field_errors")


def _actor_fields(actor) -> dict:
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        label = f"API key {api_key.name}"[:ImportJob._meta.get_field("created_by_label").max_length]
        return {"created_by": None, "api_key": api_key, "created_by_label": label}
    return {"created_by": actor, "api_key": None, "created_by_label": ""}


@transaction.atomic
def create_import(*, actor, upload, mode: str = ImportMode.DRY_RUN, encoding: str | None = None) -> ImportJob:
    """Store an uploaded file as a pending job, bound to the actor's store unless they see every
    store. What the file is comes from its content, not its name: anything but a CSV or an XLSX is
    refused, an XLSX that unpacks past the limit too, and a CSV's encoding is detected (or the one
    declared checked); a file refused is not kept."""
    check_actor(actor)
    if mode not in ImportMode.values:
        raise ImportRefused(_("Unknown mode “%(mode)s”; one of: %(modes)s.")
                            % {"mode": files.preview(mode), "modes": ", ".join(ImportMode.values)}, field="mode")
    size = upload.size or 0
    if size > max_bytes():
        raise ImportRefused(too_large_message(size), status=413, code="payload_too_large")
    if size == 0:
        raise ImportRefused(_("The file is empty."))
    name = PurePath(upload.name or "import").name[:200]
    kind, encoding = inspect_upload(upload, name=name, encoding=encoding or None)
    access = access_for(actor)
    job = ImportJob(
        original_name=name,
        size_bytes=size,
        format=ImportFormat.XLSX if kind == "xlsx" else ImportFormat.CSV,
        mode=mode,
        encoding=encoding,
        store_id=None if access.all_stores else access.store_id,
        language=translation.get_language() or settings.LANGUAGE_CODE,
        **_actor_fields(actor),
    )
    job.file.save(f"{timezone.now():%d%H%M%S}-{name}", upload, save=False)
    job.save()
    return job


def inspect_upload(upload, *, name: str, encoding: str | None) -> tuple[str, str]:
    """(kind, encoding) of an upload, or ImportRefused saying what is wrong with it."""
    upload.seek(0)
    head = upload.read(files.SNIFF_BYTES)
    upload.seek(0)
    try:
        kind = files.detect_format(head, name, source=upload)
        if kind == "xlsx":
            files.check_inflated(upload, limit=max_inflated_bytes())
            return kind, ""
        return kind, files.choose_encoding(upload, encoding)
    except files.EncodingUnclear as exc:
        raise ImportRefused(str(exc), field="encoding", code="encoding_unclear") from None
    except files.FileError as exc:
        raise ImportRefused(str(exc)) from None
    finally:
        upload.seek(0)


def runs_inline(job: ImportJob) -> bool:
    """Whether a job is small enough to run inside the request that uploaded it."""
    if job.size_bytes > inline_max_bytes():
        return False
    if job.format != ImportFormat.XLSX:
        return True
    try:
        with job.file.open("rb") as handle:
            return files.xlsx_inflated_size(handle) <= inline_max_inflated_bytes()
    except files.FileError:
        return True  # the run says what is wrong with it, at once


def start_import(*, job: ImportJob) -> None:
    """Run a small file now; queue a larger one for a worker once the job is committed."""
    if runs_inline(job):
        run_import(job_id=job.pk, inline=True)
        job.refresh_from_db()
        return
    from members.io import tasks

    transaction.on_commit(lambda: tasks.run_import.delay(job.pk))


@transaction.atomic
def commit_dry_run(*, actor, job: ImportJob) -> tuple[ImportJob, bool]:
    """Import the rows of a finished dry run from the file it checked, with its options: strict
    when every row was valid, the valid rows otherwise. Once per dry run, however often it is
    asked (a double click, a retried request): (the import, whether it was created now)."""
    check_actor(actor)
    dry_run = ImportJob.objects.select_for_update().get(pk=job.pk)
    existing = ImportJob.objects.filter(commit_of=dry_run).first()
    if existing is not None:
        return existing, False
    if not dry_run.can_commit:
        raise Conflict(_("Only a finished dry run with valid rows can be imported from its check."))
    if not dry_run.file or not dry_run.file.storage.exists(dry_run.file.name):
        raise Conflict(_("The checked file is no longer kept; upload it again."))
    commit = ImportJob.objects.create(
        file=dry_run.file.name, original_name=dry_run.original_name, size_bytes=dry_run.size_bytes,
        format=dry_run.format, encoding=dry_run.encoding, store_id=dry_run.store_id, commit_of=dry_run,
        mode=ImportMode.VALID_ROWS if dry_run.rows_invalid else ImportMode.STRICT,
        language=translation.get_language() or settings.LANGUAGE_CODE, **_actor_fields(actor),
    )
    return commit, True


LOCK_CLASS = 72_001  # advisory lock (LOCK_CLASS, job id): held by the attempt running a job


def _lock(job_id: int) -> bool:
    """Take the job's advisory lock on this connection: an attempt holds it while it runs, and
    PostgreSQL lets it go when the attempt's connection ends, however the attempt died."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, job_id])
        return cursor.fetchone()[0]


def _unlock(job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, job_id])


def _claim(job_id: int) -> bool:
    """Take a pending job that has attempts left, with one conditional UPDATE."""
    return bool(
        ImportJob.objects.filter(pk=job_id, status=ImportStatus.PENDING, attempts__lt=max_attempts())
        .update(status=ImportStatus.VALIDATING, started_at=timezone.now(), finished_at=None,
                attempts=F("attempts") + 1)
    )


def _publish(job_id: int, **fields) -> None:
    """Show progress while the import's own transaction is still open: a short autocommit UPDATE
    on a second connection. Best effort: a locked or missing row is skipped."""
    assignments = ", ".join(f"{name} = %s" for name in fields)
    side = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with side.cursor() as cursor:
            cursor.execute(
                f"UPDATE member_io_importjob SET {assignments} WHERE id IN "
                "(SELECT id FROM member_io_importjob WHERE id = %s FOR UPDATE SKIP LOCKED)",
                [*fields.values(), job_id],
            )
    except DatabaseError:
        logger.warning("could not publish progress of import %s", job_id, exc_info=True)
    finally:
        side.close()


def run_import(*, job_id: int, inline: bool = False) -> ImportJob | None:
    """Run one job to its end. Idempotent: a job that is not pending, has no attempts left or is
    being run by another attempt is left alone."""
    if not _lock(job_id):
        return None
    try:
        if not _claim(job_id):
            return None
        job = ImportJob.objects.select_related("store", "created_by", "api_key").get(pk=job_id)
        deadline = time.monotonic() + time_budget(inline=inline)
        started = time.perf_counter()
        with translation.override(job.language):
            try:
                _run(job, started, deadline)
            except (files.FileError, columns.HeaderError, bulk.ConcurrentChange, bulk.OutOfTime) as exc:
                _fail(job, exc, started)
            except SoftTimeLimitExceeded as exc:
                _fail(job, exc, started)
            except Exception as exc:  # a crash: nothing was written (one transaction); say so and keep the trace
                if not _cancelled(exc):
                    _log_crash(job_id, exc)
                _fail(job, exc, started)
        job.refresh_from_db()
        return job
    finally:
        _unlock(job_id)


def _cancelled(exc: BaseException) -> bool:
    """PostgreSQL stopped a statement: the job's time ran out (statement_timeout). A COPY's error
    comes from psycopg2 itself, others wrapped by Django."""
    return QUERY_CANCELED in (getattr(exc, "pgcode", None), getattr(exc.__cause__, "pgcode", None))


def _log_crash(job_id: int, exc: BaseException) -> None:
    """The trace of a crash, its message cut: a database error quotes the statement's data (a COPY
    error its whole line), which may be a cell of megabytes."""
    trace = "".join(traceback.format_tb(exc.__traceback__))[-LOG_MAX:]
    logger.error("import %s failed: %s: %s\n%s", job_id, type(exc).__name__, files.preview(exc, LOG_MAX), trace)


def sweep(*, pending_for: timedelta = timedelta(minutes=2)) -> dict[str, list[int]]:
    """For the beat schedule: jobs left half-way (checking or importing, but no attempt holds
    their lock: its worker was killed or restarted) go back to pending while they have attempts
    left, else end failed saying why; pending jobs whose message was lost are queued again."""
    from members.io import tasks

    outcome: dict[str, list[int]] = {"retried": [], "failed": [], "queued": []}
    for job_id in queries.jobs_in_progress():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_CLASS, job_id])
            if not cursor.fetchone()[0]:
                continue  # an attempt is alive
            job = (ImportJob.objects.select_for_update(skip_locked=True)
                   .filter(pk=job_id, status__in=RUNNING_STATES).first())
            if job is None:
                continue
            if job.attempts < max_attempts():
                ImportJob.objects.filter(pk=job.pk).update(
                    status=ImportStatus.PENDING, message_code="retrying", message="",
                    message_params={"next": job.attempts + 1, "max": max_attempts()})
                outcome["retried"].append(job.pk)
                transaction.on_commit(lambda pk=job.pk: tasks.run_import.delay(pk))
            else:
                _give_up(job)
                outcome["failed"].append(job.pk)
    for job_id in queries.jobs_to_resume(pending_for=pending_for):
        if job_id in outcome["retried"]:
            continue
        if ImportJob.objects.filter(pk=job_id, attempts__gte=max_attempts(), status=ImportStatus.PENDING).exists():
            _give_up(ImportJob.objects.get(pk=job_id))
            outcome["failed"].append(job_id)
        else:
            tasks.run_import.delay(job_id)
            outcome["queued"].append(job_id)
    return outcome


def _give_up(job: ImportJob) -> None:
    ImportJob.objects.filter(pk=job.pk, status__in=[*RUNNING_STATES, ImportStatus.PENDING]).update(
        status=ImportStatus.FAILED, message_code="abandoned", message="",
        message_params={"attempts": job.attempts}, finished_at=timezone.now(), created_count=0, updated_count=0,
        tags_added=0, identities_added=0)


def _rows(job: ImportJob):
    handle = job.file.open("rb")
    if job.format == ImportFormat.XLSX:
        return handle, files.xlsx_rows(handle)
    return handle, files.csv_rows(handle, encoding=job.encoding or None)


def _run(job: ImportJob, started: float, deadline: float) -> None:
    size = job.file.size
    if size > max_bytes():
        raise files.FileError(too_large_message(size))
    if job.format == ImportFormat.XLSX:
        with job.file.open("rb") as handle:
            files.check_inflated(handle, limit=max_inflated_bytes())
    handle, rows = _rows(job)
    try:
        header = next(rows, None)
        if header is None:
            raise files.FileError(_("The file is empty."))
        layout = columns.parse_header(header[1])
        with transaction.atomic():
            importer = bulk.Importer(layout=layout, store_id=job.store_id, user_id=job.created_by_id,
                                     deadline=deadline)
            importer.load(rows)
            _publish(job.pk, rows_total=importer.outcome.rows)
            importer.validate()
            _finish(job, importer, started)
            importer.lift_deadline()
    finally:
        handle.close()


def _finish(job: ImportJob, importer: bulk.Importer, started: float) -> None:
    """Write the valid rows if the mode says so, and record the outcome, in the import's transaction."""
    outcome = importer.outcome
    report = _save_report(job, importer) if outcome.errors else ""
    fields = {
        "rows_total": outcome.rows,
        "rows_invalid": outcome.invalid,
        "rows_valid": outcome.valid,
        "error_count": outcome.errors,
        "errors": importer.first_errors(FIRST_ERRORS),
        "report": report,
        "created_count": outcome.created,
        "updated_count": outcome.updated,
    }
    counts = {"rows": outcome.rows, "valid": outcome.valid, "invalid": outcome.invalid,
              "created": outcome.created, "updated": outcome.updated}
    if outcome.rows == 0:
        status, code = ImportStatus.FAILED, "no_rows"
    elif job.mode == ImportMode.DRY_RUN:
        fields["tags_added"] = importer.estimate_tags()
        fields["identities_added"] = importer.estimate_identities()
        status, code = ImportStatus.DONE, "dry_run"
    elif job.mode == ImportMode.STRICT and outcome.invalid:
        status, code = ImportStatus.FAILED, "strict_invalid"
        fields.update(created_count=0, updated_count=0)
    elif outcome.valid == 0:
        status, code = ImportStatus.FAILED, "none_valid"
        fields.update(created_count=0, updated_count=0)
    else:
        _publish(job.pk, status=ImportStatus.IMPORTING, rows_total=outcome.rows,
                 rows_valid=outcome.valid, rows_invalid=outcome.invalid)
        importer.write()
        fields.update(created_count=outcome.created, updated_count=outcome.updated,
                      tags_added=outcome.tags_added, identities_added=outcome.identities_added)
        counts.update(created=outcome.created, updated=outcome.updated, tags=outcome.tags_added)
        status, code = ImportStatus.DONE, "done_skipped" if outcome.invalid else "done"
        _audit(job, outcome)
    _audit_other_store(job, importer)
    timings = dict(outcome.timings, total=round(time.perf_counter() - started, 3))
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, message_code=code, message_params=counts, message="", timings=timings,
        finished_at=timezone.now(), **fields
    )


def _job_actor(job: ImportJob):
    from scrm.api.auth import ApiPrincipal

    return ApiPrincipal(job.api_key) if job.api_key is not None else job.created_by


def _audit_other_store(job: ImportJob, importer: bulk.Importer) -> None:
    """A store-bound import whose rows name phones or ids of another store's members learns that
    those people are members elsewhere, a dry run as much as an import: audited with the count of
    such rows (never which ones, nor the values), in the job's transaction."""
    if job.store_id is None:
        return
    rows = importer.rows_with("other_store")
    if rows:
        audit.record(actor=_job_actor(job), action="members.import.other_store", obj=job, store_id=job.store_id,
                     detail={"mode": job.mode, "rows": rows, "file_rows": importer.outcome.rows})


def _audit(job: ImportJob, outcome: bulk.Outcome) -> None:
    """Imports change personal data: one audit entry per import that wrote, in its transaction. It names
    the job by id, not by its file name, which may name a person."""
    audit.record(actor=_job_actor(job), action="members.import", obj=job, store_id=job.store_id, detail={
        "mode": job.mode, "rows": outcome.rows, "invalid": outcome.invalid,
        "created": outcome.created, "updated": outcome.updated, "tags_added": outcome.tags_added})


def _fail(job: ImportJob, exc: BaseException, started: float) -> None:
    """End the job failed, saying why in words a user reads; nothing was written."""
    errors, message, code, params = [], "", "", {}
    if isinstance(exc, columns.HeaderError):
        code = "header"
        errors = [{"row": 1, "column": files.preview(header), "column_number": number,
                   "value": files.preview(header), "message": files.preview(text, 500)}
                  for number, header, text in exc.errors]
    elif isinstance(exc, files.FileError):
        message = files.preview(str(exc), 500) + " " + _("Nothing was imported.")
        if exc.row:
            errors = [{"row": exc.row, "column": "", "column_number": None, "value": None,
                       "message": files.preview(str(exc), 500)}]
    elif isinstance(exc, bulk.ConcurrentChange):
        code = "concurrent"
    elif isinstance(exc, bulk.OutOfTime):
        code, params = "time_limit", {"seconds": int(exc.args[0])}
    elif isinstance(exc, SoftTimeLimitExceeded):
        code, params = "time_limit", {"seconds": task_time_limits()[0]}
    elif _cancelled(exc):
        code, params = "statement_timeout", {"seconds": int(time.perf_counter() - started)}
    else:
        code, params = "crashed", {"error": type(exc).__name__}
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.FAILED, message=message, message_code=code, message_params=params, errors=errors,
        error_count=len(errors), finished_at=timezone.now(),
        timings={"total": round(time.perf_counter() - started, 3)}, created_count=0, updated_count=0, tags_added=0,
        identities_added=0,
    )


def _save_report(job: ImportJob, importer: bulk.Importer) -> str:
    with tempfile.TemporaryFile() as handle:
        importer.report_csv(handle)
        handle.seek(0)
        stem = PurePath(job.original_name).stem[:80]
        return job.report.storage.save(f"imports/reports/{job.pk}-{stem}-errors.csv", File(handle))
