"""The job kernel (scrm.jobs) against real PostgreSQL: a job's lock is exclusive across connections
and goes with the connection that held it, a claim is one conditional UPDATE, progress published
from inside an open transaction is seen by another connection, the job's time is enforced by the
server's statement_timeout, and the sweeper puts back only jobs no attempt holds, within their
attempts. The jobs are member import rows, run through a kind of the test's own (its queue records
what it was asked to send instead of sending it)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone, translation

from members.io.models import ImportFormat, ImportJob, ImportStatus
from scrm import jobs
from tests.helpers import wait_for

LOCK_CLASS = 79_999  # a class no app uses, so no real attempt can hold these locks


class Queue(list):
    """What the sweeper sent to a worker, in order."""

    def __call__(self, job_id: int) -> None:
        self.append(job_id)


@pytest.fixture
def queue():
    return Queue()


@pytest.fixture
def ran():
    """What the kind's run() was asked to do: (job id, inline, the language it ran in)."""
    return []


@pytest.fixture
def kind(queue, ran, settings):
    settings.TEST_JOB_MAX_ATTEMPTS = 2

    def run(*, job_id: int, inline: bool = False):
        with jobs.running(kind, job_id) as job:
            if job is None:
                return None
            ran.append((job_id, inline, translation.get_language()))
            ImportJob.objects.filter(pk=job_id).update(status=ImportStatus.DONE)
            return job

    kind = jobs.JobKind(
        model=ImportJob, label="test job", logger=logging.getLogger("tests.jobs"), lock_class=LOCK_CLASS,
        settings_prefix="TEST_JOB", pending=ImportStatus.PENDING, claimed=ImportStatus.VALIDATING,
        started=(ImportStatus.VALIDATING, ImportStatus.IMPORTING), failed=ImportStatus.FAILED, queue=queue,
        run=run, abandoned_counts={"created_count": 0},
    )
    return kind


def make_job(**fields) -> ImportJob:
    return ImportJob.objects.create(original_name="a.csv", format=ImportFormat.CSV, **fields)


def other_connection():
    return connections.create_connection("default")


def other_try_lock(other, key: int) -> bool:
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, key])
        return cursor.fetchone()[0]


# --- the lock ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_jobs_lock_is_held_by_one_connection_at_a_time():
    other = other_connection()
    try:
        assert jobs.try_lock(LOCK_CLASS, 1)
        assert other_try_lock(other, 1) is False  # held here
        assert other_try_lock(other, 2) is True  # another job's lock is another lock
        jobs.unlock(LOCK_CLASS, 1)
        assert other_try_lock(other, 1) is True  # let go here, taken there
        assert jobs.try_lock(LOCK_CLASS, 1) is False
        with transaction.atomic():
            assert jobs.try_transaction_lock(LOCK_CLASS, 1) is False
    finally:
        other.close()
    # The connection that held it ended (a worker killed half-way): PostgreSQL lets the lock go
    # once that backend is gone.
    assert wait_for(lambda: jobs.try_lock(LOCK_CLASS, 1), timeout=5)
    assert jobs.try_lock(LOCK_CLASS, 2)
    jobs.unlock(LOCK_CLASS, 1)
    jobs.unlock(LOCK_CLASS, 2)


@pytest.mark.django_db(transaction=True)
def test_a_transaction_lock_ends_with_its_transaction():
    other = other_connection()
    try:
        with transaction.atomic():
            assert jobs.try_transaction_lock(LOCK_CLASS, 3)
            assert other_try_lock(other, 3) is False
        assert other_try_lock(other, 3) is True
    finally:
        other.close()


# --- claiming ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_claim_takes_a_pending_job_with_attempts_left_once(kind):
    job = make_job()
    assert jobs.claim(kind, job.pk) is True
    job.refresh_from_db()
    assert (job.status, job.attempts) == (ImportStatus.VALIDATING, 1)
    assert job.started_at is not None and job.finished_at is None
    assert jobs.claim(kind, job.pk) is False  # not pending any more: a second delivery takes nothing
    assert ImportJob.objects.get(pk=job.pk).attempts == 1
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.PENDING, attempts=2)
    assert jobs.claim(kind, job.pk) is False  # out of attempts
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.PENDING
    ImportJob.objects.filter(pk=job.pk).update(attempts=1, finished_at=timezone.now())
    assert jobs.claim(kind, job.pk) is True
    job.refresh_from_db()
    assert (job.attempts, job.finished_at) == (2, None)
    assert jobs.claim(kind, job.pk + 1000) is False  # no such job


@pytest.mark.django_db
def test_an_attempt_runs_only_while_it_holds_the_lock_and_the_claim(kind):
    job = make_job()
    other = other_connection()
    try:
        assert other_try_lock(other, job.pk)  # another attempt is running it
        with jobs.attempt(kind, job.pk) as claimed:
            assert claimed is False
        assert ImportJob.objects.get(pk=job.pk).attempts == 0
        with other.cursor() as cursor:  # that attempt ends
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, job.pk])
    finally:
        other.close()
    with jobs.attempt(kind, job.pk) as claimed:
        assert claimed is True
        probe = other_connection()
        try:
            assert other_try_lock(probe, job.pk) is False  # held for the whole block
        finally:
            probe.close()
    with jobs.attempt(kind, job.pk) as claimed:  # the lock was let go; the job is no longer pending
        assert claimed is False
    probe = other_connection()
    try:
        assert other_try_lock(probe, job.pk) is True  # nothing here holds it any more
    finally:
        probe.close()


@pytest.mark.django_db
def test_a_running_job_is_read_in_its_own_language_and_none_once_taken(kind, ran):
    job = make_job(language="en")
    with translation.override("zh-hans"):
        jobs.start(kind, job, inline=True)  # a small file: run in the request
    assert ran == [(job.pk, True, "en")]
    assert job.status == ImportStatus.DONE  # read back once it ran
    with jobs.running(kind, job.pk) as again:
        assert again is None


@pytest.mark.django_db(transaction=True)
def test_a_large_file_is_queued_once_the_job_is_committed(kind, queue, ran):
    with transaction.atomic():
        job = make_job()
        jobs.start(kind, job, inline=False)
        assert queue == []  # a worker would not see the job yet
    assert queue == [job.pk] and ran == []


# --- progress ------------------------------------------------------------------------------------


def read_progress(job_id: int) -> tuple[int, str] | None:
    reader = other_connection()
    try:
        with reader.cursor() as cursor:
            cursor.execute(f"SELECT rows_total, status FROM {ImportJob._meta.db_table} WHERE id = %s", [job_id])
            return cursor.fetchone()
    finally:
        reader.close()


@pytest.mark.django_db(transaction=True)
def test_progress_published_inside_an_open_transaction_is_seen_by_another_connection(kind):
    job = make_job()
    with transaction.atomic():
        written = make_job()  # what the job's own transaction writes, unseen until it commits
        jobs.publish(kind, job.pk, rows_total=1234, status=ImportStatus.IMPORTING)
        assert read_progress(job.pk) == (1234, ImportStatus.IMPORTING)  # before the commit
        assert read_progress(written.pk) is None
    job.refresh_from_db()
    assert (job.rows_total, job.status) == (1234, ImportStatus.IMPORTING)
    assert read_progress(written.pk) == (0, ImportStatus.PENDING)


@pytest.mark.django_db(transaction=True)
def test_progress_of_a_row_another_transaction_locks_is_skipped_not_waited_for(kind):
    job = make_job()
    with transaction.atomic():
        list(ImportJob.objects.select_for_update().filter(pk=job.pk))
        started = time.monotonic()
        jobs.publish(kind, job.pk, rows_total=99)
        assert time.monotonic() - started < 2
    assert ImportJob.objects.get(pk=job.pk).rows_total == 0


# --- the job's time ------------------------------------------------------------------------------


def statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_server_cancels_a_statement_past_the_jobs_time_for_that_transaction_only():
    before = statement_timeout()
    with pytest.raises(OperationalError) as caught, transaction.atomic():
        assert jobs.bound_statements(ends=time.monotonic() + 0.3)
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(5)")
    assert time.monotonic() - started < 3
    assert jobs.statement_cancelled(caught.value)
    assert statement_timeout() == before  # nothing of the bound is left on the connection


@pytest.mark.django_db(transaction=True)
def test_a_bound_is_what_is_left_at_most_the_cap_and_can_be_lifted():
    before = statement_timeout()
    with transaction.atomic():
        assert jobs.bound_statements(ends=time.monotonic() + 60)
        assert statement_timeout() != before
    assert statement_timeout() == before  # committed: the bound was that transaction's only
    with transaction.atomic():
        assert jobs.bound_statements(ends=time.monotonic() + 100, cap_ms=1500, check_client_seconds=5)
        assert statement_timeout() == "1500ms"
        with connection.cursor() as cursor:
            cursor.execute("SHOW client_connection_check_interval")
            assert cursor.fetchone()[0] == "5s"
        assert jobs.bound_statements(ends=time.monotonic() + 2)
        assert 1000 <= int(statement_timeout().removesuffix("ms")) <= 2000
        jobs.lift_statement_bound()
        assert statement_timeout() == "0"
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.1)")  # unbounded again


@pytest.mark.django_db(transaction=True)
def test_no_time_left_sets_nothing_and_says_so():
    with transaction.atomic():
        assert jobs.bound_statements(ends=time.monotonic() - 1) is False
        assert statement_timeout() == "0"


def test_only_a_cancelled_statement_counts_as_out_of_time():
    class Driver(Exception):
        def __init__(self, pgcode):
            self.pgcode = pgcode

    assert jobs.statement_cancelled(Driver("57014"))
    wrapped = OperationalError("canceling statement")
    wrapped.__cause__ = Driver("57014")
    assert jobs.statement_cancelled(wrapped)
    assert not jobs.statement_cancelled(Driver("40P01"))  # a deadlock is a crash, not the job's time
    assert not jobs.statement_cancelled(ValueError("x"))


# --- the sweeper ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_puts_back_only_stale_jobs_within_their_attempts(kind, queue):
    long_ago = timezone.now() - timedelta(minutes=10)
    dead = make_job(status=ImportStatus.VALIDATING, attempts=1)  # its worker died
    alive = make_job(status=ImportStatus.IMPORTING, attempts=1)  # an attempt holds its lock
    spent = make_job(status=ImportStatus.IMPORTING, attempts=2, created_count=7)  # died on its last attempt
    lost = make_job(created_at=long_ago)  # pending long after upload: its message was lost
    lost_spent = make_job(created_at=long_ago, attempts=2)
    fresh = make_job()  # pending, just uploaded: its message is on its way
    done = make_job(status=ImportStatus.DONE, attempts=1, created_at=long_ago)
    other = other_connection()
    try:
        assert other_try_lock(other, alive.pk)
        outcome = jobs.sweep(kind)
    finally:
        other.close()
    assert outcome == {"retried": [dead.pk], "failed": [spent.pk, lost_spent.pk], "queued": [lost.pk]}
    assert queue == [dead.pk, lost.pk]  # the retried one once its transaction committed
    dead.refresh_from_db()
    assert (dead.status, dead.message_code, dead.message_params) == (
        ImportStatus.PENDING, "retrying", {"next": 2, "max": 2})
    for job in (spent, lost_spent):
        job.refresh_from_db()
        assert (job.status, job.message_code, job.message_params) == (
            ImportStatus.FAILED, "abandoned", {"attempts": 2})
        assert job.finished_at is not None and job.created_count == 0
    statuses = dict(ImportJob.objects.filter(pk__in=[alive.pk, fresh.pk, done.pk]).values_list("pk", "status"))
    assert statuses == {alive.pk: ImportStatus.IMPORTING, fresh.pk: ImportStatus.PENDING, done.pk: ImportStatus.DONE}


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_leaves_a_job_whose_row_another_transaction_holds(kind, queue):
    job = make_job(status=ImportStatus.VALIDATING, attempts=1)
    holder = other_connection()
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {ImportJob._meta.db_table} WHERE id = %s FOR UPDATE", [job.pk])
        assert jobs.sweep(kind) == {"retried": [], "failed": [], "queued": []}
    finally:
        holder.rollback()
        holder.close()
    assert queue == []
    assert jobs.sweep(kind)["retried"] == [job.pk]


@pytest.mark.django_db(transaction=True)
def test_the_attempt_cap_comes_from_the_kinds_setting(kind, queue, settings):
    settings.TEST_JOB_MAX_ATTEMPTS = 3
    job = make_job(status=ImportStatus.VALIDATING, attempts=2)
    assert jobs.sweep(kind)["retried"] == [job.pk]
    assert ImportJob.objects.get(pk=job.pk).message_params == {"next": 3, "max": 3}
    assert jobs.claim(kind, job.pk)
    assert ImportJob.objects.get(pk=job.pk).attempts == 3
    assert jobs.sweep(kind)["failed"] == [job.pk]
    settings.TEST_JOB_MAX_ATTEMPTS = 0  # never fewer than one
    assert kind.max_attempts() == 1


def test_time_limits_and_budgets_follow_the_kinds_settings(kind, settings):
    settings.TEST_JOB_TIME_LIMIT = 600
    assert kind.task_time_limits() == (540, 600)
    assert kind.time_budget(inline=False) == 510.0
    settings.TEST_JOB_TIME_LIMIT = 100
    assert kind.task_time_limits() == (80, 100)
    assert kind.time_budget(inline=False) == 64.0
    settings.TEST_JOB_INLINE_SECONDS = 4
    assert kind.time_budget(inline=True) == 4.0


# --- a job's upload ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_uploaded_through_a_key_is_run_as_that_key_named_within_the_field(alice):
    from scrm.api.auth import ApiPrincipal
    from scrm.services import api_keys

    key = api_keys.issue(name="k" * 100, scopes=["members:write"]).api_key
    fields = jobs.uploader_fields(ImportJob, ApiPrincipal(key))
    assert (fields["created_by"], fields["api_key"]) == (None, key)
    assert fields["created_by_label"] == ("API key " + "k" * 100)[:100]
    runs_as = jobs.uploader(make_job(**fields))
    assert isinstance(runs_as, ApiPrincipal) and runs_as.api_key == key
    assert jobs.uploader_fields(ImportJob, alice) == {"created_by": alice, "api_key": None, "created_by_label": ""}
    assert jobs.uploader(make_job(**jobs.uploader_fields(ImportJob, alice))) == alice
