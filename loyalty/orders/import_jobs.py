"""Order import jobs: an uploaded file is stored as a job, then run (in the request when it is
small, otherwise by a Celery worker) through `imports.import_orders`, and its outcome recorded on
the job: counts, the first errors, and what happened as a code worded when it is read, in the
reader's language. An attempt holds the job's advisory lock and claims it with a conditional
UPDATE, at most ORDER_IMPORT_MAX_ATTEMPTS (2) times; the sweeper (`sweep`, every minute) puts a
job whose worker died back to pending while it has attempts left, fails it saying why otherwise,
and queues jobs whose message was lost. A finished dry run is imported from its stored file, once."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import PurePath

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.orders import imports, services
from loyalty.orders.models import OrderImportJob, OrderImportMode, OrderImportStatus
from scrm import files, jobs
from scrm.errors import Forbidden, InvalidInput
from scrm.scoping import access_for
from scrm.services import audit

logger = logging.getLogger(__name__)

FIRST_ERRORS = 500  # kept on the job, worded when read
LOCK_CLASS = 72_002  # advisory lock (LOCK_CLASS, job id): held by the attempt running a job

JOB_MESSAGES = {
    "no_rows": gettext_lazy("The file has a header but no rows."),
    "dry_run": gettext_lazy(
        "Dry run: %(rows)s rows, %(orders)s orders: %(created)s new, %(existing)s already recorded, "
        "%(invalid)s invalid. Nothing was written."
    ),
    "all_invalid": gettext_lazy(
        "%(invalid)s of %(orders)s orders are invalid; nothing was imported. Correct them, or choose "
        "“import the valid orders”."
    ),
    "none_valid": gettext_lazy("No order is valid; nothing was imported."),
    "done": gettext_lazy("Imported %(orders)s orders: %(created)s recorded, %(existing)s already recorded."),
    "done_skipped": gettext_lazy(
        "Imported %(valid)s orders: %(created)s recorded, %(existing)s already recorded. %(invalid)s invalid "
        "orders were skipped; see the errors."
    ),
    "crashed": gettext_lazy("The import stopped on an unexpected error (%(error)s); nothing was written."),
    "time_limit": gettext_lazy(
        "The import took longer than %(seconds)s seconds and was stopped; nothing was written. Split the file "
        "into smaller ones."
    ),
    "abandoned": gettext_lazy(
        "The import stopped half-way %(attempts)s times (its worker was stopped or restarted) and will not be "
        "tried again; nothing was written. Upload it again, or split it into smaller files."
    ),
    "retrying": gettext_lazy(
        "The import stopped half-way (its worker was stopped or restarted); nothing was written. It will be "
        "tried again (attempt %(next)s of %(max)s)."
    ),
}


# --- the kind of job (scrm.jobs runs its lock, claim, progress, time and sweeper) --------------------


def _queue(job_id: int) -> None:
    from loyalty.orders import tasks

    tasks.run_order_import.delay(job_id)


ORDER_IMPORTS = jobs.JobKind(
    model=OrderImportJob, label="order import", logger=logger, lock_class=LOCK_CLASS,
    settings_prefix="ORDER_IMPORT", pending=OrderImportStatus.PENDING, claimed=OrderImportStatus.RUNNING,
    started=(OrderImportStatus.RUNNING,), failed=OrderImportStatus.FAILED, queue=_queue,
    run=lambda **attempt: run_job(**attempt),
    abandoned_counts={"created_count": 0, "existing_count": 0},
)


# --- settings --------------------------------------------------------------------------------------


def inline_max_bytes() -> int:
    """Files up to this size run inside the request that uploads them; larger ones in a worker."""
    return int(getattr(settings, "ORDER_IMPORT_INLINE_MAX_BYTES", 256 * 1024))


# --- reading a job ---------------------------------------------------------------------------------


def job_message(job: OrderImportJob) -> str:
    template = JOB_MESSAGES.get(job.message_code)
    if template is None:
        return job.message
    try:
        return str(template) % (job.message_params or {})
    except (KeyError, TypeError, ValueError):
        return job.message or str(template)


def rendered_errors(errors: list[dict]) -> list[dict]:
    """Stored errors with their message in the active language (a code's, or the text kept)."""
    return [
        {
            "row": e.get("row"),
            "column": files.preview(e.get("column")) or "",
            "code": e.get("code") or "",
            "params": e.get("params") or {},
            "message": imports.row_message(e.get("code") or "", e.get("params"), files.preview(e.get("message"), 1000)
                                           or ""),
        }
        for e in errors
    ]


# --- creating a job --------------------------------------------------------------------------------


def _refused(message: str, field: str = "file") -> InvalidInput:
    return InvalidInput(message, details={field: [message]})


def check_actor(actor) -> None:
    if not services.can_import_orders(actor):
        raise Forbidden(_("Your role cannot import orders."))
    access = access_for(actor)
    if not access.all_stores and access.store_id is None:
        raise Forbidden(_("Your account is not bound to a store."))


def _inspect(upload, name: str, encoding: str | None) -> tuple[str, str]:
    """(kind, encoding) of an upload whose header names every required column, or InvalidInput."""
    upload.seek(0)
    head = upload.read(files.SNIFF_BYTES)
    upload.seek(0)
    try:
        kind = files.detect_format(head, name, source=upload)
        if kind == "xlsx":
            files.check_inflated(upload, limit=imports.MAX_INFLATED)
            chosen = ""
        else:
            chosen = files.choose_encoding(upload, encoding)
        imports.check_header(upload, chosen or None)
        return kind, chosen
    except files.EncodingUnclear as exc:
        raise _refused(str(exc), "encoding") from None
    except files.FileError as exc:
        raise _refused(str(exc)) from None
    finally:
        upload.seek(0)


@transaction.atomic
def create_job(*, actor, upload, mode: str = OrderImportMode.DRY_RUN, encoding: str | None = None) -> OrderImportJob:
    """Store an uploaded file as a pending job, bound to the actor's store unless they see every
    store. A file that is no CSV or XLSX, whose encoding is unclear, that is too large or lacks a
    required column is refused at once and not kept."""
    check_actor(actor)
    if mode not in OrderImportMode.values:
        raise _refused(_("Unknown mode “%(mode)s”.") % {"mode": files.preview(mode)}, "mode")
    size = upload.size or 0
    if size > imports.MAX_BYTES:
        raise _refused(_("The file is %(size)s; the limit is %(limit)s. Split it or use the API.")
                       % {"size": filesizeformat(size), "limit": filesizeformat(imports.MAX_BYTES)})
    if size == 0:
        raise _refused(_("The file is empty."))
    name = PurePath(upload.name or "orders").name[:200]
    kind, encoding = _inspect(upload, name, encoding or None)
    access = access_for(actor)
    job = OrderImportJob(
        original_name=name, size_bytes=size, format=kind, mode=mode, encoding=encoding,
        store_id=None if access.all_stores else access.store_id,
        language=jobs.uploader_language(), **jobs.uploader_fields(OrderImportJob, actor),
    )
    return jobs.save_upload(job, upload, name=name)


def start_job(*, job: OrderImportJob) -> None:
    """Run a small file now; queue a larger one for a worker once the job is committed."""
    jobs.start(ORDER_IMPORTS, job, inline=job.size_bytes <= inline_max_bytes())


@transaction.atomic
def commit_dry_run(*, actor, job: OrderImportJob) -> tuple[OrderImportJob, bool]:
    """Import the orders of a finished dry run from the file it checked: all or nothing when every
    order was valid, the valid orders otherwise. Once per dry run, however often it is asked:
    (the import, whether it was created now)."""
    check_actor(actor)
    return jobs.commit_once(
        OrderImportJob, job.pk, actor=actor,
        mode=lambda dry_run: OrderImportMode.VALID if dry_run.invalid_orders else OrderImportMode.ALL,
        not_committable=_("Only a finished dry run with valid orders can be imported from its check."))


# --- running a job ---------------------------------------------------------------------------------


def _lock(job_id: int) -> bool:
    return jobs.try_lock(LOCK_CLASS, job_id)


def _unlock(job_id: int) -> None:
    jobs.unlock(LOCK_CLASS, job_id)


def run_job(*, job_id: int, inline: bool = False) -> OrderImportJob | None:
    """Run one job to its end. Idempotent: a job that is not pending, has no attempts left or is
    being run by another attempt is left alone."""
    with jobs.running(ORDER_IMPORTS, job_id) as job:
        if job is None:
            return None
        started = time.perf_counter()
        try:
            _run(job, ORDER_IMPORTS.time_budget(inline=inline))
        except files.FileError as exc:
            _fail(job, message=files.preview(str(exc), 500) + " " + _("Nothing was imported."), row=exc.row)
        except SoftTimeLimitExceeded:
            _fail(job, code="time_limit", params={"seconds": ORDER_IMPORTS.task_time_limits()[0]})
        except Exception as exc:  # a crash: the import's one transaction wrote nothing
            jobs.log_crash(ORDER_IMPORTS, job_id, exc, seconds=time.perf_counter() - started)
            _fail(job, code="crashed", params={"error": type(exc).__name__})
        job.refresh_from_db()
        return job


def _run(job: OrderImportJob, budget: float) -> None:
    actor = jobs.uploader(job)
    if actor is None:
        raise files.FileError(_("The account that uploaded this file no longer exists."))
    with job.file.open("rb") as handle, transaction.atomic():
        report = imports.import_orders(
            upload=handle, mode=job.mode, actor=actor, encoding=job.encoding or None, time_budget=budget,
            progress=lambda done, total: jobs.publish(ORDER_IMPORTS, job.pk, orders_checked=done, orders=total),
        )
        _finish(job, report, actor)


def _outcome(job: OrderImportJob, report: imports.ImportReport) -> tuple[str, str]:
    if report.rows == 0:
        return OrderImportStatus.FAILED, "no_rows"
    if job.mode == OrderImportMode.DRY_RUN:
        return OrderImportStatus.DONE, "dry_run"
    if not report.written:
        return OrderImportStatus.FAILED, "all_invalid"
    if report.created + report.existing == 0:
        return OrderImportStatus.FAILED, "none_valid"
    return OrderImportStatus.DONE, "done_skipped" if report.invalid_orders else "done"


def _finish(job: OrderImportJob, report: imports.ImportReport, actor) -> None:
    """Record the outcome in the import's transaction (and audit an import that wrote)."""
    status, code = _outcome(job, report)
    counts = {"rows": report.rows, "orders": report.orders, "created": report.created,
              "existing": report.existing, "invalid": report.invalid_orders,
              "valid": report.created + report.existing}
    if report.written:
        audit.record(actor=actor, action="orders.import", obj=job, store_id=job.store_id, detail=counts)
    refused = job.mode != OrderImportMode.DRY_RUN and not report.written  # nothing was recorded
    OrderImportJob.objects.filter(pk=job.pk).update(
        status=status, message_code=code, message_params=counts, message="", rows=report.rows,
        orders=report.orders, orders_checked=report.orders, created_count=0 if refused else report.created,
        existing_count=0 if refused else report.existing, invalid_orders=report.invalid_orders,
        error_count=len(report.errors),
        errors=[e.stored() for e in report.errors[:FIRST_ERRORS]], finished_at=timezone.now(),
    )


def _fail(job: OrderImportJob, *, code: str = "", params: dict | None = None, message: str = "",
          row: int | None = None) -> None:
    errors = [{"row": row, "column": "", "code": "", "params": {}, "message": message}] if row else []
    OrderImportJob.objects.filter(pk=job.pk).update(
        status=OrderImportStatus.FAILED, message_code=code, message_params=params or {}, message=message,
        errors=errors, error_count=len(errors), finished_at=timezone.now(), created_count=0, existing_count=0,
    )


# --- the sweeper -----------------------------------------------------------------------------------


def sweep(*, pending_for: timedelta = timedelta(minutes=2)) -> dict[str, list[int]]:
    """For the beat schedule: jobs left running with no attempt holding their lock (its worker was
    killed or restarted) go back to pending while they have attempts left, else end failed saying
    why; jobs still pending a while after upload (a lost message) are queued again."""
    return jobs.sweep(ORDER_IMPORTS, pending_for=pending_for)
