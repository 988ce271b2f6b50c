"""Contact sync runs: resumable jobs with a cursor per staff member, a report, and a sweeper.

`start_run(kind=, actor=)` creates the run (one active run per kind: the unique constraint decides;
a second start answers the active run). A worker runs it in bounded steps (`run_step`: up to
WECOM_SYNC_STEP_PAGES pages or WECOM_SYNC_STEP_SECONDS seconds, then the task queues itself again),
holding an advisory lock on the run so two deliveries never run it at once. Each page is written
in one transaction with its cursor, so a step that stops anywhere resumes exactly after the last
page written.

- Full (SyncKind.CONTACTS): per linked staff member, externalcontact/batch/get_by_user pages of 100;
  at the end of a staff member, externalcontact/list says who is still a contact, the rest churn.
- Incremental (SyncKind.CONTACTS_INCREMENTAL): per staff member, externalcontact/list diffed with
  the stored follows: new ids fetched with externalcontact/get, missing ones churned. Edits arrive
  through callbacks (wecom.services.contact_events).
- Customer groups (SyncKind.GROUPS): per staff member (linked or not), the groups they own
  (wecom.services.groups: groupchat/list pages, groupchat/get per chat).

A rate limit or an outage pauses the run (`resume_at`, `pause_reason`); the sweeper (beat) resumes
due runs and re-queues running runs whose heartbeat is stale (a killed worker). Attempts without
progress are capped; the run then fails saying why. Refused credentials fail it at once."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.actors import actor_label, actor_user
from scrm.errors import InvalidInput
from wecom.models import (
    ACTIVE_RUN_STATUSES,
    CursorStatus,
    RunStatus,
    StaffStatus,
    SyncCursor,
    SyncFailure,
    SyncKind,
    SyncRun,
    WecomFollow,
    WecomStaff,
)
from wecom.services import contacts, groups
from wecom.services.staff import check_can_manage, is_syncable, refresh_staff

logger = logging.getLogger(__name__)

CONTACT_KINDS = (SyncKind.CONTACTS, SyncKind.CONTACTS_INCREMENTAL)
RUN_KINDS = (*CONTACT_KINDS, SyncKind.GROUPS)  # the kinds this module runs
PAGE_LIMIT = 100  # batch/get_by_user's maximum
LOCK_CLASS = 7342  # advisory locks of sync runs: (class, run id), shared by the lanes running it
CURSOR_LOCK_CLASS = 7343  # (class, cursor id): the lane writing that staff member's contacts
PREPARE_LOCK_CLASS = 7344  # (class, run id), for the transaction giving the run its cursors
DEADLOCK_RETRIES = 3
FAILURES_KEPT = 300  # SyncFailure rows per run; the rest are counted only
DETAIL_MAX = SyncFailure._meta.get_field("detail").max_length


def _setting(name: str, default):
    return type(default)(getattr(settings, name, default))


def step_pages() -> int:
    return _setting("WECOM_SYNC_STEP_PAGES", 200)


def step_seconds() -> float:
    return _setting("WECOM_SYNC_STEP_SECONDS", 60.0)


def lanes() -> int:
    """Workers sharing one run, each on its own staff members (the run's speed grows with them
    until WeCom's call limits bound it)."""
    return max(1, _setting("WECOM_SYNC_LANES", 2))


def write_batch() -> int:
    """Contacts fetched (pages of 100) before they are written in one transaction: fewer, larger
    set-based statements (tests/bench/wecom_sync_bench.py measures the difference)."""
    return max(1, _setting("WECOM_SYNC_WRITE_BATCH", 1000))


def max_attempts() -> int:
    """Pauses or restarts in a row without a page written, before the run gives up."""
    return _setting("WECOM_SYNC_MAX_ATTEMPTS", 8)


def stale_after() -> timedelta:
    return timedelta(seconds=_setting("WECOM_SYNC_STALE_SECONDS", 300))


def _backoff(attempts: int) -> float:
    return min(30.0 * 2 ** max(attempts - 1, 0), 1800.0)


# --- starting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartResult:
    run: SyncRun
    created: bool


def start_run(*, kind: str, actor) -> StartResult:
    """Create a contact sync run and queue it; when one of this kind is active, answer that one."""
    check_can_manage(actor)
    if kind not in RUN_KINDS:
        raise InvalidInput(details={"kind": [_("One of: %(choices)s.") % {"choices": ", ".join(RUN_KINDS)}]})
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                kind=kind, requested_by=actor_user(actor), requested_by_label=actor_label(actor)[:64]
            )
    except IntegrityError:
        active = SyncRun.objects.filter(kind=kind, status__in=ACTIVE_RUN_STATUSES).first()
        if active is None:  # it finished in between: start again
            return start_run(kind=kind, actor=actor)
        return StartResult(active, False)
    queue(run.pk)
    return StartResult(run, True)


def queue(run_id: int, *, count: int = 1) -> None:
    """Queue `count` tasks running the run (lanes); more than one only share its staff members."""
    from wecom.tasks import contacts as tasks

    def send():
        for _lane in range(count):
            tasks.run_sync.delay(run_id)

    transaction.on_commit(send)


# --- running ----------------------------------------------------------------------------------


class _Fail(Exception):
    def __init__(self, code: str, errcode=None):
        self.code, self.errcode = code, errcode


class _Stopped(Exception):
    """The run is no longer running (cancelled by an operator): stop after the page written."""


def _advisory(function: str, kind: int, key: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [kind, key])
        return cursor.fetchone()[0]


def lock_is_free(run_id: int) -> bool:
    """No lane holds the run (the sweeper's test for a run a dead worker left)."""
    if not _advisory("pg_try_advisory_lock", LOCK_CLASS, run_id):
        return False
    _advisory("pg_advisory_unlock", LOCK_CLASS, run_id)
    return True


def run_step(*, run_id: int, client=None, pages: int | None = None, seconds: float | None = None) -> str:
    """Run a bounded part of the run, on staff members no other lane is writing. Returns "more"
    (queue another step), "paused", "done", "failed", "stopped" (cancelled, paused or failed by
    another lane meanwhile), "waiting" (what is left is being written by other lanes) or "idle"
    (nothing to do: gone or not runnable)."""
    if not _advisory("pg_try_advisory_lock_shared", LOCK_CLASS, run_id):
        return "busy"  # the sweeper is looking at it this instant
    try:
        now = timezone.now()
        claimed = SyncRun.objects.filter(
            pk=run_id, kind__in=RUN_KINDS, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
        ).update(
            status=RunStatus.RUNNING, heartbeat_at=now, started_at=Coalesce(F("started_at"), now),
            resume_at=None, pause_reason="",
        )
        if not claimed:
            return "idle"
        run = SyncRun.objects.get(pk=run_id)
        return _Runner(run, client, pages or step_pages(), seconds or step_seconds()).run()
    finally:
        _advisory("pg_advisory_unlock_shared", LOCK_CLASS, run_id)


class _Runner:
    def __init__(self, run: SyncRun, client, pages: int, seconds: float):
        from wecom.client import get_client

        self.run_row = run
        self.client = client
        self._get_client = get_client
        self.pages_left = pages
        self.deadline = time.monotonic() + seconds

    @property
    def api(self):
        if self.client is None:
            self.client = self._get_client()
        return self.client

    def run(self) -> str:
        from wecom.client import errors

        try:
            if not SyncCursor.objects.filter(run=self.run_row).exists() and self.prepare():
                queue(self.run_row.pk, count=lanes() - 1)  # the other lanes, now there is work to share
            for pk in list(self.pending().values_list("pk", flat=True)):
                if not self.budget_left():
                    return "more"
                if not _advisory("pg_try_advisory_lock", CURSOR_LOCK_CLASS, pk):
                    continue  # another lane is on this staff member
                try:
                    cursor = self.pending().filter(pk=pk).first()  # fresh: it may have been finished
                    if cursor is not None:
                        self.sync_staff(cursor)
                finally:
                    _advisory("pg_advisory_unlock", CURSOR_LOCK_CLASS, pk)
            if self.pending().exists():
                return "more" if not self.budget_left() else "waiting"
            if self.run_row.kind == SyncKind.GROUPS:
                groups.finish_run(self.run_row)
            groups.link_members()  # customers in groups who became known contacts meanwhile
            finish(self.run_row.pk)
            return "done"
        except _Stopped:
            return "stopped"
        except _Fail as failure:
            fail_run(self.run_row.pk, code=failure.code, errcode=failure.errcode)
            return "failed"
        except errors.RateLimited as exc:
            return pause_run(self.run_row.pk, reason="rate_limited", seconds=exc.retry_after, errcode=exc.errcode)
        except errors.Unavailable as exc:
            attempts = self.run_row.attempts + 1
            return pause_run(self.run_row.pk, reason="unavailable", seconds=_backoff(attempts), errcode=exc.errcode)
        except errors.CredentialsRejected as exc:
            fail_run(self.run_row.pk, code="credentials_rejected", errcode=exc.errcode)
            return "failed"
        except errors.NotConfigured:
            fail_run(self.run_row.pk, code="not_configured")
            return "failed"

    def budget_left(self) -> bool:
        return self.pages_left > 0 and time.monotonic() < self.deadline

    def pending(self):
        return SyncCursor.objects.filter(run=self.run_row, status=CursorStatus.PENDING).select_related(
            "staff__store"
        ).order_by("staff__userid")

    def prepare(self) -> bool:
        """Find the staff (get_follow_user_list) and give each a cursor; unlinked ones are skipped.
        Once per run, whichever lane comes first; False when another lane did it."""
        from wecom.client import errors

        with transaction.atomic():
            with connection.cursor() as db:
                db.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PREPARE_LOCK_CLASS, self.run_row.pk])
            if SyncCursor.objects.filter(run=self.run_row).exists():
                return False
            try:
                refresh_staff(client=self.api)
            except (errors.PermissionDenied, errors.InvalidRequest) as exc:
                raise _Fail("staff_list_refused", exc.errcode) from None
            staff = list(WecomStaff.objects.filter(follow_enabled=True).order_by("userid"))
            now = timezone.now()
            if self.run_row.kind == SyncKind.GROUPS:  # a group's owner needs no Siyu account
                syncable = {s.pk for s in staff if s.status == StaffStatus.ACTIVE}
            else:
                syncable = {s.pk for s in staff if is_syncable(s)}
            SyncCursor.objects.bulk_create(
                [
                    SyncCursor(
                        run=self.run_row, staff=s, updated_at=now,
                        status=CursorStatus.PENDING if s.pk in syncable else CursorStatus.SKIPPED,
                        error_code="" if s.pk in syncable else "staff_unlinked",
                    )
                    for s in staff
                ],
                ignore_conflicts=True,
            )
            total = len(syncable)
            SyncRun.objects.filter(pk=self.run_row.pk).update(staff_total=total, heartbeat_at=now)
        return True

    def sync_staff(self, cursor: SyncCursor) -> None:
        from wecom.client import errors

        try:
            if self.run_row.kind == SyncKind.GROUPS:
                done = groups.sync_owner(self, cursor)
            elif self.run_row.kind == SyncKind.CONTACTS:
                done = self.full_pages(cursor)
            else:
                done = self.incremental(cursor)
        except (errors.PermissionDenied, errors.InvalidRequest, errors.NotAContact) as exc:
            _staff_failed(self.run_row, cursor, exc)
            return
        if done:
            with transaction.atomic():
                SyncCursor.objects.filter(pk=cursor.pk).update(status=CursorStatus.DONE, updated_at=timezone.now())
                SyncRun.objects.filter(pk=self.run_row.pk).update(staff_done=F("staff_done") + 1)

    def full_pages(self, cursor: SyncCursor) -> bool:
        """Pages of this staff member's contacts from the saved cursor on, written in batches of up to
        write_batch() contacts (one transaction with the cursor after the batch's last page, so a stop
        anywhere resumes after the last batch written); True when the last is written (and the ones
        no longer listed churned)."""
        batch_size = write_batch()
        while self.budget_left():
            entries: list = []
            pages = 0
            next_cursor = cursor.cursor
            while True:
                try:
                    answer = self.api.post(
                        "externalcontact/batch/get_by_user",
                        {"userid_list": [cursor.staff.userid], "cursor": next_cursor, "limit": PAGE_LIMIT},
                    )
                except Exception:
                    if pages:  # a pause or a failure mid-batch: keep the pages fetched so far
                        self.write(cursor, entries, next_cursor, pages)
                    raise
                entries += [
                    (e.get("external_contact") or {}, e.get("follow_info") or {})
                    for e in answer.get("external_contact_list") or [] if isinstance(e, dict)
                ]
                found = answer.get("next_cursor") or ""
                next_cursor = found if isinstance(found, str) else ""
                pages += 1
                self.pages_left -= 1
                if not next_cursor or len(entries) >= batch_size or not self.budget_left():
                    break
            self.write(cursor, entries, next_cursor, pages)
            if not cursor.cursor:
                self.churn(cursor)
                return True
        return False

    def write(self, cursor: SyncCursor, entries: list, next_cursor: str, pages: int) -> None:
        """One batch and its cursor in one transaction. Lanes writing customers two staff members
        share can deadlock on a row; PostgreSQL then cancels one transaction, which is written again."""
        for attempt in range(1, DEADLOCK_RETRIES + 1):
            try:
                with transaction.atomic():
                    outcome = contacts.apply_page(staff=cursor.staff, entries=entries)
                    _record_page(self.run_row, cursor, outcome, pages=pages, next_cursor=next_cursor)
                cursor.cursor = next_cursor
                return
            except OperationalError as exc:
                if getattr(exc.__cause__, "pgcode", None) != "40P01" or attempt == DEADLOCK_RETRIES:
                    raise
                logger.info("wecom sync run %s: deadlock on a batch, writing it again", self.run_row.pk)

    def churn(self, cursor: SyncCursor) -> None:
        answer = self.api.get("externalcontact/list", params={"userid": cursor.staff.userid})
        present = [e for e in answer.get("external_userid") or [] if isinstance(e, str)]
        with transaction.atomic():
            removed = contacts.churn_missing(staff=cursor.staff, present=present)
            _count(self.run_row, cursor, removed=removed)

    def incremental(self, cursor: SyncCursor) -> bool:
        """List the staff member's contacts, fetch the new ones one by one, churn the missing."""
        from wecom.client import errors

        answer = self.api.get("externalcontact/list", params={"userid": cursor.staff.userid})
        present = [e for e in answer.get("external_userid") or [] if isinstance(e, str)]
        known = set(
            WecomFollow.objects.filter(staff=cursor.staff, deleted_at__isnull=True)
            .values_list("contact__external_userid", flat=True)
        )
        erased = contacts.erased_among([e for e in present if e not in known])
        new = sorted(e for e in present if e not in known and e not in erased)
        if erased:
            _count(self.run_row, cursor, skipped=len(erased))
        for external_userid in new:
            if not self.budget_left():
                return False  # resumes here: the ones written are known now
            self.pages_left -= 1
            try:
                detail = self.api.get("externalcontact/get", params={"external_userid": external_userid})
            except (errors.NotAContact, errors.InvalidRequest) as exc:
                outcome = contacts.Outcome(failed=1, failures=[contacts.Failure(_reason(exc), external_userid)])
            else:
                follows = [f for f in detail.get("follow_user") or [] if f.get("userid") == cursor.staff.userid]
                outcome = contacts.Outcome()
                with transaction.atomic():
                    outcome.add(contacts.apply_page(
                        staff=cursor.staff, entries=[(detail.get("external_contact") or {}, f) for f in follows]
                    ))
            with transaction.atomic():
                _record_page(self.run_row, cursor, outcome)
        with transaction.atomic():
            removed = contacts.churn_missing(staff=cursor.staff, present=present)
            unchanged = len(known & set(present))
            _count(self.run_row, cursor, removed=removed, unchanged=unchanged)
        return True


def _reason(exc) -> str:
    from wecom.client import errors

    if isinstance(exc, errors.NotAContact):
        return "not_a_contact"
    if isinstance(exc, errors.PermissionDenied):
        return "permission_denied"
    return "invalid_request"


def _count(run: SyncRun, cursor: SyncCursor, **counts) -> None:
    counts = {k: v for k, v in counts.items() if v}
    now = timezone.now()
    SyncCursor.objects.filter(pk=cursor.pk).update(
        updated_at=now, **{k: F(k) + v for k, v in counts.items() if k != "skipped"}
    )
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=now, **{k: F(k) + v for k, v in counts.items()})


def _record_page(
    run: SyncRun, cursor: SyncCursor, outcome: contacts.Outcome, *, pages: int = 1, next_cursor: str | None = None
) -> None:
    """In the page's transaction: the cursor where the next page starts, the counts, the failures
    (up to FAILURES_KEPT per run), a heartbeat, and attempts back to 0 (progress was made)."""
    now = timezone.now()
    counts = {k: getattr(outcome, k) for k in ("added", "updated", "unchanged", "failed")}
    SyncCursor.objects.filter(pk=cursor.pk).update(
        cursor=cursor.cursor if next_cursor is None else next_cursor,
        pages=F("pages") + pages,
        updated_at=now, **{k: F(k) + v for k, v in counts.items()}
    )
    running = SyncRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
        heartbeat_at=now, attempts=0, skipped=F("skipped") + outcome.skipped,
        **{k: F(k) + v for k, v in counts.items()},
    )
    if not running:
        raise _Stopped  # rolls the page back with its cursor: a cancelled run writes nothing more
    _keep_failures(run, cursor.staff, outcome.failures)


def _keep_failures(run: SyncRun, staff, failures) -> None:
    if not failures:
        return
    room = FAILURES_KEPT - SyncFailure.objects.filter(run=run).count()
    SyncFailure.objects.bulk_create([
        SyncFailure(run=run, staff=staff, external_userid=f.external_userid, reason=f.reason,
                    detail=f.detail[:DETAIL_MAX])
        for f in failures[:max(room, 0)]
    ])


def _staff_failed(run: SyncRun, cursor: SyncCursor, exc) -> None:
    reason = _reason(exc)
    with transaction.atomic():
        SyncCursor.objects.filter(pk=cursor.pk).update(
            status=CursorStatus.FAILED, error_code=reason, updated_at=timezone.now()
        )
        SyncRun.objects.filter(pk=run.pk).update(staff_done=F("staff_done") + 1, heartbeat_at=timezone.now())
        _keep_failures(run, cursor.staff, [contacts.Failure(reason, "", f"errcode {exc.errcode}")])


# --- ending, pausing, sweeping ----------------------------------------------------------------


def finish(run_id: int) -> None:
    SyncRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        status=RunStatus.DONE, finished_at=timezone.now(), resume_at=None, pause_reason=""
    )
    logger.info("wecom sync run %s done", run_id)


def fail_run(run_id: int, *, code: str, errcode=None) -> None:
    SyncRun.objects.filter(pk=run_id, status__in=ACTIVE_RUN_STATUSES).update(
        status=RunStatus.FAILED, finished_at=timezone.now(), error_code=code[:32],
        error=f"errcode {errcode}" if errcode is not None else "", resume_at=None,
    )
    logger.warning("wecom sync run %s failed: %s (errcode %s)", run_id, code, errcode)


def cancel_run(*, run_id: int, actor) -> bool:
    """Stop an active contact or tags run: a queued or paused one at once, a running one before its
    next page (what was written stays). Returns False when the run had already ended."""
    check_can_manage(actor)
    cancelled = SyncRun.objects.filter(pk=run_id, status__in=ACTIVE_RUN_STATUSES).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now(), resume_at=None, pause_reason="",
        error_code="cancelled", error=(actor_label(actor) or getattr(actor, "get_username", str)())[:200],
    )
    if cancelled:
        logger.info("wecom sync run %s cancelled by %s", run_id, actor_label(actor))
    return bool(cancelled)


def pause_run(run_id: int, *, reason: str, seconds: float, errcode=None) -> str:
    """Pause until `seconds` from now, or fail when the run is out of attempts."""
    run = SyncRun.objects.get(pk=run_id)
    if run.attempts + 1 > max_attempts():
        fail_run(run_id, code=f"gave_up_{reason}", errcode=errcode)
        return "failed"
    SyncRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        status=RunStatus.PAUSED, pause_reason=reason[:32], attempts=F("attempts") + 1,
        resume_at=timezone.now() + timedelta(seconds=max(float(seconds), 1.0)),
        error=f"errcode {errcode}" if errcode is not None else "",
    )
    logger.info("wecom sync run %s paused: %s for %.0fs", run_id, reason, seconds)
    return "paused"


def sweep(*, now=None) -> dict[str, list[int]]:
    """For the beat schedule: paused runs that are due go back to the queue; running runs whose
    heartbeat is stale and whose lock nobody holds (a killed worker) are queued again, or fail when
    out of attempts; queued runs whose message was lost are queued again."""
    now = now or timezone.now()
    outcome: dict[str, list[int]] = {"resumed": [], "restarted": [], "failed": [], "queued": []}
    due = SyncRun.objects.filter(status=RunStatus.PAUSED, resume_at__lte=now).values_list("pk", "kind")
    for run_id, kind in due:
        if kind not in RUN_KINDS:
            if kind == SyncKind.TAGS:  # a tags run resumes from paused itself (wecom.services.tags.run)
                _queue_tags(run_id)
                outcome["resumed"].append(run_id)
            continue
        if SyncRun.objects.filter(pk=run_id, status=RunStatus.PAUSED).update(status=RunStatus.QUEUED):
            outcome["resumed"].append(run_id)
            queue(run_id, count=lanes())
    contact_runs = SyncRun.objects.filter(kind__in=RUN_KINDS)
    stale = contact_runs.filter(status=RunStatus.RUNNING, heartbeat_at__lt=now - stale_after())
    for run in stale:
        if not lock_is_free(run.pk):
            continue
        if run.attempts + 1 > max_attempts():
            fail_run(run.pk, code="stalled")
            outcome["failed"].append(run.pk)
        elif SyncRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING, heartbeat_at=run.heartbeat_at).update(
            status=RunStatus.QUEUED, attempts=F("attempts") + 1
        ):
            outcome["restarted"].append(run.pk)
            queue(run.pk, count=lanes())
    lost = contact_runs.filter(status=RunStatus.QUEUED, created_at__lt=now - timedelta(minutes=2)).filter(
        heartbeat_at__isnull=True
    ) | contact_runs.filter(status=RunStatus.QUEUED, heartbeat_at__lt=now - stale_after())
    for run_id in lost.values_list("pk", flat=True):
        if run_id not in outcome["resumed"] + outcome["restarted"] and lock_is_free(run_id):
            outcome["queued"].append(run_id)
            queue(run_id, count=lanes())
    return outcome


def _queue_tags(run_id: int) -> None:
    from wecom.tasks import tags as tasks

    transaction.on_commit(lambda: tasks.run_tags.delay(run_id))
