"""Import jobs: accept an upload, run it (inline for small files, in a Celery worker otherwise),
record the outcome. The rows themselves go through members.io.bulk, set-based, in one transaction:
a crash or an invalid file in strict mode leaves nothing half-written."""

from __future__ import annotations

import logging
import tempfile
import time
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.models import F, Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from members.io import bulk, columns
from members.io.models import ImportFormat, ImportJob, ImportMode, ImportStatus
from scrm import files
from scrm.errors import ServiceError
from scrm.models import Role
from scrm.scoping import access_for
from scrm.services import audit

logger = logging.getLogger(__name__)

FIRST_ERRORS = 200  # kept on the job; the full report is a CSV file


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
def create_import(*, actor, upload, mode: str = ImportMode.DRY_RUN) -> ImportJob:
    """Store an uploaded file as a pending job, bound to the actor's store unless they see every store."""
    check_actor(actor)
    if mode not in ImportMode.values:
        raise ImportRefused(_("Unknown mode “%(mode)s”; one of: %(modes)s.")
                            % {"mode": mode, "modes": ", ".join(ImportMode.values)}, field="mode")
    size = upload.size or 0
    if size > max_bytes():
        raise ImportRefused(too_large_message(size), status=413, code="payload_too_large")
    if size == 0:
        raise ImportRefused(_("The file is empty."))
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    name = PurePath(upload.name or "import").name[:200]
    try:
        kind = files.detect_format(head, name)
    except files.FileError as exc:
        raise ImportRefused(str(exc)) from None
    access = access_for(actor)
    job = ImportJob(
        original_name=name,
        size_bytes=size,
        format=ImportFormat.XLSX if kind == "xlsx" else ImportFormat.CSV,
        mode=mode,
        store_id=None if access.all_stores else access.store_id,
        language=translation.get_language() or settings.LANGUAGE_CODE,
        **_actor_fields(actor),
    )
    job.file.save(f"{timezone.now():%d%H%M%S}-{name}", upload, save=False)
    job.save()
    return job


def start_import(*, job: ImportJob) -> None:
    """Run a small file now; queue a larger one for a worker once the job is committed."""
    if job.size_bytes <= inline_max_bytes():
        run_import(job_id=job.pk)
        job.refresh_from_db()
        return
    from members.io import tasks

    transaction.on_commit(lambda: tasks.run_import.delay(job.pk))


def _claim(job_id: int) -> bool:
    """Take a pending job, or one whose worker died long ago, with one conditional UPDATE."""
    now = timezone.now()
    stale = now - timedelta(seconds=getattr(settings, "CELERY_TASK_TIME_LIMIT", 1800) + 60)
    return bool(
        ImportJob.objects.filter(pk=job_id)
        .filter(Q(status=ImportStatus.PENDING)
                | Q(status__in=[ImportStatus.VALIDATING, ImportStatus.IMPORTING], started_at__lt=stale))
        .update(status=ImportStatus.VALIDATING, started_at=now, finished_at=None, attempts=F("attempts") + 1)
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


def run_import(*, job_id: int) -> ImportJob | None:
    """Run one job to its end. Idempotent: a job that is not pending (or abandoned) is left alone."""
    if not _claim(job_id):
        return None
    job = ImportJob.objects.select_related("store", "created_by", "api_key").get(pk=job_id)
    started = time.perf_counter()
    with translation.override(job.language):
        try:
            _run(job, started)
        except (files.FileError, columns.HeaderError, bulk.ConcurrentChange) as exc:
            _fail(job, exc, started)
        except Exception as exc:  # a crash: nothing was written (one transaction); say so and keep the trace
            logger.exception("import %s failed", job_id)
            _fail(job, exc, started)
    job.refresh_from_db()
    return job


def _rows(job: ImportJob):
    handle = job.file.open("rb")
    if job.format == ImportFormat.XLSX:
        return handle, files.xlsx_rows(handle)
    return handle, files.csv_rows(handle)


def _run(job: ImportJob, started: float) -> None:
    size = job.file.size
    if size > max_bytes():
        raise files.FileError(too_large_message(size))
    handle, rows = _rows(job)
    try:
        header = next(rows, None)
        if header is None:
            raise files.FileError(_("The file is empty."))
        layout = columns.parse_header(header[1])
        with transaction.atomic():
            importer = bulk.Importer(layout=layout, store_id=job.store_id, user_id=job.created_by_id)
            importer.load(rows)
            _publish(job.pk, rows_total=importer.outcome.rows)
            importer.validate()
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
            if outcome.rows == 0:
                status, message = ImportStatus.FAILED, _("The file has a header but no rows.")
            elif job.mode == ImportMode.DRY_RUN:
                fields["tags_added"] = importer.estimate_tags()
                fields["identities_added"] = importer.estimate_identities()
                status, message = ImportStatus.DONE, _dry_run_message(outcome)
            elif job.mode == ImportMode.STRICT and outcome.invalid:
                status = ImportStatus.FAILED
                message = _("%(invalid)s of %(rows)s rows have errors; nothing was imported. Correct them, or "
                            "choose “import the valid rows”.") % {"invalid": outcome.invalid, "rows": outcome.rows}
                fields.update(created_count=0, updated_count=0)
            elif outcome.valid == 0:
                status, message = ImportStatus.FAILED, _("No row is valid; nothing was imported.")
                fields.update(created_count=0, updated_count=0)
            else:
                _publish(job.pk, status=ImportStatus.IMPORTING, rows_total=outcome.rows,
                         rows_valid=outcome.valid, rows_invalid=outcome.invalid)
                importer.write()
                fields.update(created_count=outcome.created, updated_count=outcome.updated,
                              tags_added=outcome.tags_added, identities_added=outcome.identities_added)
                status, message = ImportStatus.DONE, _done_message(outcome)
                _audit(job, outcome)
            timings = dict(outcome.timings, total=round(time.perf_counter() - started, 3))
            ImportJob.objects.filter(pk=job.pk).update(
                status=status, message=message, timings=timings, finished_at=timezone.now(), **fields
            )
    finally:
        handle.close()


def _audit(job: ImportJob, outcome: bulk.Outcome) -> None:
    """Imports change personal data: one audit entry per import that wrote, in its transaction. It names
    the job by id, not by its file name, which may name a person."""
    from scrm.api.auth import ApiPrincipal

    actor = ApiPrincipal(job.api_key) if job.api_key is not None else job.created_by
    audit.record(actor=actor, action="members.import", obj=job, store_id=job.store_id, detail={
        "mode": job.mode, "rows": outcome.rows, "invalid": outcome.invalid,
        "created": outcome.created, "updated": outcome.updated, "tags_added": outcome.tags_added})


def _fail(job: ImportJob, exc: Exception, started: float) -> None:
    errors = []
    if isinstance(exc, columns.HeaderError):
        message = _("The first row (the column names) cannot be used; nothing was imported.")
        errors = [{"row": 1, "column": files.preview(header), "column_number": number,
                   "value": files.preview(header), "message": text} for number, header, text in exc.errors]
    elif isinstance(exc, files.FileError):
        message = str(exc) + " " + _("Nothing was imported.")
        if exc.row:
            errors = [{"row": exc.row, "column": "", "column_number": None, "value": None, "message": str(exc)}]
    elif isinstance(exc, bulk.ConcurrentChange):
        message = str(exc)
    else:
        message = _("The import stopped on an unexpected error (%(error)s); nothing was written.") % {
            "error": type(exc).__name__}
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.FAILED, message=message, errors=errors, error_count=len(errors), finished_at=timezone.now(),
        timings={"total": round(time.perf_counter() - started, 3)}, created_count=0, updated_count=0, tags_added=0,
        identities_added=0,
    )


def _save_report(job: ImportJob, importer: bulk.Importer) -> str:
    with tempfile.TemporaryFile() as handle:
        importer.report_csv(handle)
        handle.seek(0)
        stem = PurePath(job.original_name).stem[:80]
        return job.report.storage.save(f"imports/reports/{job.pk}-{stem}-errors.csv", File(handle))


def _dry_run_message(outcome: bulk.Outcome) -> str:
    return _("Dry run: %(rows)s rows, %(valid)s valid (%(created)s new members, %(updated)s updates), "
             "%(invalid)s with errors. Nothing was written.") % {
        "rows": outcome.rows, "valid": outcome.valid, "created": outcome.created, "updated": outcome.updated,
        "invalid": outcome.invalid}


def _done_message(outcome: bulk.Outcome) -> str:
    message = _("Imported %(valid)s rows: %(created)s members created, %(updated)s updated, %(tags)s tags added.") % {
        "valid": outcome.valid, "created": outcome.created, "updated": outcome.updated, "tags": outcome.tags_added}
    if outcome.invalid:
        message += " " + _("%(invalid)s rows with errors were skipped; see the report.") % {"invalid": outcome.invalid}
    return message
