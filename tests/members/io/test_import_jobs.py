"""Import jobs that end: the duplicate check stays linear, every statement is bounded by the job's
time, an attempt holds the job's lock, the sweeper tries a job left half-way again while it has
attempts and then fails it saying why; errors are stored as codes and worded for each reader;
a dry run is imported from its page once, however often it is asked."""

from __future__ import annotations

import csv
import io
import time

import pytest
from django.db import connection, connections
from django.utils import translation
from rest_framework.test import APIClient

from members.io import reports, services
from members.io.models import ImportJob, ImportStatus
from members.models import Identity, Member
from tests.members.io.conftest import run_import, upload

pytestmark = pytest.mark.django_db


def run_inline(actor, content, mode="strict") -> ImportJob:
    """Run an import as the request that uploaded it does, with the request's time."""
    job = services.create_import(actor=actor, upload=upload(content), mode=mode)
    return services.run_import(job_id=job.pk, inline=True)


def timed(actor, content) -> tuple[ImportJob, float]:
    started = time.perf_counter()
    job = run_import(actor, content, mode="dry_run")
    return job, time.perf_counter() - started


# --- linear -----------------------------------------------------------------------------------


def test_one_identity_on_every_row_costs_what_distinct_ones_cost(alice, store_a):
    """20,000 rows sharing one wecom id: each row names five others, and the check takes about
    what 20,000 distinct ids take (it was quadratic: 40,000 such rows held a request 28 s)."""
    n = 20_000
    repeated = "name,phone,wecom\n" + "".join(f"m{i},138{i:08d},wm-same\n" for i in range(n))
    distinct = "name,phone,wecom\n" + "".join(f"m{i},138{i:08d},wm{i}\n" for i in range(n))
    timed(alice, distinct)  # warm the caches
    job_distinct, distinct_seconds = timed(alice, distinct)
    job_repeated, repeated_seconds = timed(alice, repeated)
    assert job_distinct.rows_invalid == 0 and job_repeated.rows_invalid == n
    assert repeated_seconds < 2.5 * distinct_seconds + 1.0, (repeated_seconds, distinct_seconds)
    first = job_repeated.rendered_errors()[0]
    assert (first["row"], first["code"]) == (2, "duplicate")
    assert first["message"] == "“wm-same” also appears in row 3, 4, 5, 6, 7 …; an identity may appear in one row only."
    assert job_repeated.rendered_errors()[5]["params"]["rows"] == "2, 3, 4, 5, 6 …"


# --- bounded in time, never stuck -------------------------------------------------------------


def test_a_job_out_of_time_fails_saying_why_and_writes_nothing(alice, store_a, settings):
    settings.MEMBER_IMPORT_INLINE_SECONDS = 0.0001
    job = run_inline(alice, "name,phone\n张三,13800138000\n")
    assert job.status == ImportStatus.FAILED
    assert job.message_code in ("time_limit", "statement_timeout")
    assert "nothing was written" in job.summary and "Split the file" in job.summary
    assert not Member.objects.exists()


def test_a_statement_past_the_jobs_time_is_cancelled_by_postgresql(alice, store_a, settings):
    """The bound is the server's statement_timeout, set for the import's transaction only: a
    statement that cannot finish (here it waits on a lock another session holds on the members
    table) is cancelled by PostgreSQL when the job's time is up, however fast the machine is."""
    settings.MEMBER_IMPORT_INLINE_SECONDS = 1.5
    rows = "".join(f"m{i},138{i:08d},wm{i}\n" for i in range(50))
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {Member._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        job = run_inline(alice, "name,phone,wecom\n" + rows)
    finally:
        other.rollback()
        other.close()
    assert job.status == ImportStatus.FAILED and job.message_code == "statement_timeout", job.summary
    assert not Member.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"  # nothing of the job's bound is left on the connection


def test_a_job_being_run_is_not_run_again_and_one_out_of_attempts_not_at_all(alice, store_a, settings):
    job = services.create_import(actor=alice, upload=upload("name,phone\n张三,13800138000\n"), mode="strict")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # another attempt is running it
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [services.LOCK_CLASS, job.pk])
        assert services.run_import(job_id=job.pk) is None
        assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.PENDING
    finally:
        other.close()
    ImportJob.objects.filter(pk=job.pk).update(
        attempts=settings.MEMBER_IMPORT_MAX_ATTEMPTS if hasattr(settings, "MEMBER_IMPORT_MAX_ATTEMPTS") else 2
    )
    assert services.run_import(job_id=job.pk) is None
    assert not Member.objects.exists()


def test_the_sweeper_retries_a_job_left_half_way_then_fails_it_saying_why(alice, store_a):
    job = services.create_import(actor=alice, upload=upload("name,phone\n张三,13800138000\n"), mode="strict")
    # An attempt that died half-way: the job says "checking", and no connection holds its lock.
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.VALIDATING, attempts=1)
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # while an attempt is alive, the sweeper leaves the job alone
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [services.LOCK_CLASS, job.pk])
        assert services.sweep()["retried"] == []
        assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.VALIDATING
    finally:
        other.close()
    assert services.sweep()["retried"] == [job.pk]
    job.refresh_from_db()
    assert job.status == ImportStatus.PENDING
    assert "will be tried again (attempt 2 of 2)" in job.summary
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING, attempts=2)  # died again
    assert services.sweep()["failed"] == [job.pk]
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and job.finished_at is not None
    assert "stopped half-way 2 times" in job.summary and "nothing was written" in job.summary
    assert services.run_import(job_id=job.pk) is None  # and it stays failed
    assert not Member.objects.exists()


# --- the reader's language --------------------------------------------------------------------


def test_errors_are_worded_in_the_readers_language(alice, store_a, client):
    with translation.override("zh-hans"):
        job = run_import(alice, "name,phone\n张三,13800138000\n李四,1380013800\n", mode="valid_rows")
    assert job.language == "zh-hans"
    assert job.errors[0]["code"] == "phone" and "message" not in job.errors[0]
    with translation.override("en"):
        assert job.rendered_errors()[0]["message"] == "“1380013800” is not a valid phone number."
        assert job.summary.startswith("Imported 1 rows")
        text = b"".join(reports.worded(job.report.open("rb"))).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["3", "phone", "1380013800", "“1380013800” is not a valid phone number."]
    api = APIClient()
    api.force_login(alice)
    body = api.get(f"/api/v1/imports/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["errors"][0]["message"] == "“1380013800” is not a valid phone number."
    assert body["message"].startswith("Imported 1 rows")


def test_an_error_stored_as_text_before_codes_is_still_shown(alice, store_a):
    job = run_import(alice, "name,phone\n张三,13800138000\n", mode="dry_run")
    old = {"row": 2, "column": "phone", "column_number": 2, "value": "x", "message": "“x” 不是有效的手机号。"}
    ImportJob.objects.filter(pk=job.pk).update(errors=[old], message="旧的结果", message_code="")
    job.refresh_from_db()
    assert job.rendered_errors()[0]["message"] == "“x” 不是有效的手机号。"
    assert job.summary == "旧的结果"


# --- committed from its dry run ---------------------------------------------------------------


def test_a_dry_run_is_imported_from_its_page_once(alice, store_a, client):
    client.force_login(alice)
    dry_run = run_import(alice, "name,phone,wecom\n张三,13800138000,wm1\n李四,1380013800,wm2\n", mode="dry_run")
    page = client.get(f"/members/import/{dry_run.pk}/")
    assert 'data-testid="import-commit"' in page.content.decode() and "Import this row" in page.content.decode()
    first = client.post(f"/members/import/{dry_run.pk}/commit/")
    again = client.post(f"/members/import/{dry_run.pk}/commit/")  # a double click
    assert first.status_code == again.status_code == 302 and first.url == again.url
    commit = ImportJob.objects.get(commit_of=dry_run)
    assert (commit.status, commit.mode, commit.created_count, commit.file.name) == (
        ImportStatus.DONE,
        "valid_rows",
        1,
        dry_run.file.name,
    )
    assert Member.objects.count() == 1 and Identity.objects.filter(external_id="wm1").count() == 1
    page = client.get(f"/members/import/{dry_run.pk}/")
    assert 'data-testid="import-committed"' in page.content.decode()
    assert 'data-testid="import-commit"' not in page.content.decode()


def test_the_api_commits_a_dry_run_once_and_refuses_anything_else(alice, store_a):
    api = APIClient()
    api.force_login(alice)
    dry_run = run_import(alice, "name,phone\n张三,13800138000\n", mode="dry_run")
    first = api.post(f"/api/v1/imports/{dry_run.pk}/commit/")
    assert first.status_code == 201, first.content
    assert (first.json()["commit_of"], first.json()["mode"], first.json()["created_count"]) == (dry_run.pk, "strict", 1)
    again = api.post(f"/api/v1/imports/{dry_run.pk}/commit/")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    refused = api.post(f"/api/v1/imports/{first.json()['id']}/commit/")  # not a dry run
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    assert Member.objects.count() == 1
