"""Import jobs: accept an upload, run it (inline for small files, in a Celery worker otherwise),
record the outcome. The rows themselves go through members.io.bulk, set-based, in one transaction:
a crash or an invalid file in strict mode leaves nothing half-written."""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import timedelta
from pathlib import PurePath

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from members.io import bulk, columns
from members.io.models import ImportFormat, ImportJob, ImportMode, ImportStatus
from scrm import files, jobs
from scrm.errors import ServiceError
from scrm.models import Role
from scrm.scoping import access_for
from scrm.services import audit

logger = logging.getLogger(__name__)

FIRST_ERRORS = 200  # kept on the job; the full report is a CSV file
LOCK_CLASS = 72_001  # advisory lock (LOCK_CLASS, job id): held by the attempt running a job
# Held shared by each import's transaction, alone by a first load (members.io.first_load).
FIRST_LOAD_LOCK = (72_002, 0)


def _queue(job_id: int) -> None:
    from members.io import tasks

    tasks.run_import.delay(job_id)


IMPORTS = jobs.JobKind(
    model=ImportJob, label="import", logger=logger, lock_class=LOCK_CLASS, settings_prefix="MEMBER_IMPORT",
    pending=ImportStatus.PENDING, claimed=ImportStatus.VALIDATING,
    started=(ImportStatus.VALIDATING, ImportStatus.IMPORTING), failed=ImportStatus.FAILED, queue=_queue,
    run=lambda **attempt: run_import(**attempt),
    abandoned_counts={"created_count": 0, "updated_count": 0, "tags_added": 0, "identities_added": 0},
)


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
        language=jobs.uploader_language(),
        **jobs.uploader_fields(ImportJob, actor),
    )
    return jobs.save_upload(job, upload, name=name)


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
    jobs.start(IMPORTS, job, inline=runs_inline(job))


@transaction.atomic
def commit_dry_run(*, actor, job: ImportJob) -> tuple[ImportJob, bool]:
    """Import the rows of a finished dry run from the file it checked, with its options: strict
    when every row was valid, the valid rows otherwise. Once per dry run, however often it is
    asked (a double click, a retried request): (the import, whether it was created now)."""
    check_actor(actor)
    return jobs.commit_once(
        ImportJob, job.pk, actor=actor,
        mode=lambda dry_run: ImportMode.VALID_ROWS if dry_run.rows_invalid else ImportMode.STRICT,
        not_committable=_("Only a finished dry run with valid rows can be imported from its check."))


def run_import(*, job_id: int, inline: bool = False) -> ImportJob | None:
    """Run one job to its end. Idempotent: a job that is not pending, has no attempts left or is
    being run by another attempt is left alone."""
    with jobs.running(IMPORTS, job_id) as job:
        if job is None:
            return None
        # Every statement is bounded by what is left of this (SET LOCAL statement_timeout).
        deadline = time.monotonic() + IMPORTS.time_budget(inline=inline)
        started = time.perf_counter()
        try:
            _run(job, started, deadline)
        except (files.FileError, columns.HeaderError, bulk.ConcurrentChange, bulk.OutOfTime,
                bulk.FirstLoadRunning) as exc:
            _fail(job, exc, started)
        except SoftTimeLimitExceeded as exc:
            _fail(job, exc, started)
        except Exception as exc:  # a crash: nothing was written (one transaction); say so and keep the trace
            if not jobs.statement_cancelled(exc):
                jobs.log_crash(IMPORTS, job_id, exc)
            _fail(job, exc, started)
        job.refresh_from_db()
        return job


def sweep(*, pending_for: timedelta = timedelta(minutes=2)) -> dict[str, list[int]]:
    """For the beat schedule: jobs left half-way (checking or importing, but no attempt holds
    their lock: its worker was killed or restarted) go back to pending while they have attempts
    left, else end failed saying why; pending jobs whose message was lost are queued again."""
    return jobs.sweep(IMPORTS, pending_for=pending_for)


def first_load_not_running() -> bool:
    """For an import's transaction: False while a first load runs (the import then stops, having
    written nothing). Held shared until the transaction ends, so no first load starts inside an
    import, nor an import inside a first load."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock_shared(%s, %s)", list(FIRST_LOAD_LOCK))
        return cursor.fetchone()[0]


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
            if not first_load_not_running():
                raise bulk.FirstLoadRunning()
            importer = bulk.Importer(layout=layout, store_id=job.store_id, user_id=job.created_by_id,
                                     deadline=deadline)
            importer.load(rows)
            jobs.publish(IMPORTS, job.pk, rows_total=importer.outcome.rows)
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
        jobs.publish(IMPORTS, job.pk, status=ImportStatus.IMPORTING, rows_total=outcome.rows,
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


def _audit_other_store(job: ImportJob, importer: bulk.Importer) -> None:
    """A store-bound import whose rows name phones or ids of another store's members learns that
    those people are members elsewhere, a dry run as much as an import: audited with the count of
    such rows (never which ones, nor the values), in the job's transaction."""
    if job.store_id is None:
        return
    rows = importer.rows_with("other_store")
    if rows:
        audit.record(actor=jobs.uploader(job), action="members.import.other_store", obj=job, store_id=job.store_id,
                     detail={"mode": job.mode, "rows": rows, "file_rows": importer.outcome.rows})


def _audit(job: ImportJob, outcome: bulk.Outcome) -> None:
    """Imports change personal data: one audit entry per import that wrote, in its transaction. It names
    the job by id, not by its file name, which may name a person."""
    audit.record(actor=jobs.uploader(job), action="members.import", obj=job, store_id=job.store_id, detail={
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
    elif isinstance(exc, bulk.FirstLoadRunning):
        code = "first_load_running"
    elif isinstance(exc, bulk.OutOfTime):
        code, params = "time_limit", {"seconds": int(exc.args[0])}
    elif isinstance(exc, SoftTimeLimitExceeded):
        code, params = "time_limit", {"seconds": IMPORTS.task_time_limits()[0]}
    elif jobs.statement_cancelled(exc):
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
