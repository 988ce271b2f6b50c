"""Order file imports run as jobs: the upload is stored and checked, a small file runs in the request
and a larger one in a real Celery worker (once, however often delivered), with its time bounded;
a dry run is imported from its stored file once; the sweeper retries a job whose worker died (two
attempts) and queues one whose message was lost; the API and the dashboard show the job's progress
and report; the files are covered by retention and erasure."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from loyalty.orders import import_jobs, privacy, tasks
from loyalty.orders.models import Order, OrderImportJob, OrderImportStatus
from members.io.models import io_storage
from members.privacy_registry import ErasureSubject
from scrm.errors import Conflict, Forbidden, InvalidInput
from scrm.models import AuditLog
from tests.helpers import wait_for

HEADER = "order_number,channel,placed_at,store,phone,total_amount\n"
GOOD = HEADER + "SH01-1,pos,2026-11-20 14:03,SH01,13800130000,100.00\nSH01-2,pos,2026-11-20 15:00,SH01,,20.00\n"
ONE_BAD = GOOD + "SH01-3,pos,not a date,SH01,,5.00\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def upload(text: str, name="orders.csv"):
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def run(actor, text, mode="dry_run"):
    job = import_jobs.create_job(actor=actor, upload=upload(text), mode=mode)
    import_jobs.start_job(job=job)
    job.refresh_from_db()
    return job


# --- the service -----------------------------------------------------------------------------------


def test_a_small_dry_run_runs_in_the_request_and_writes_nothing(alice, members):
    job = run(alice, ONE_BAD)
    assert (job.status, job.attempts, job.store) == (OrderImportStatus.DONE, 1, None)
    assert (job.rows, job.orders, job.created_count, job.invalid_orders) == (3, 3, 2, 1)
    assert "Nothing was written" in job.summary and job.can_commit
    assert [(e["row"], e["column"]) for e in job.rendered_errors()] == [(4, "placed_at")]
    assert job.file and io_storage().exists(job.file.name)
    assert not Order.objects.exists()


def test_a_dry_run_is_committed_from_its_file_once(alice, members):
    dry_run = run(alice, ONE_BAD)
    commit, created = import_jobs.commit_dry_run(actor=alice, job=dry_run)
    assert created and commit.mode == "valid" and commit.file.name == dry_run.file.name
    import_jobs.start_job(job=commit)
    commit.refresh_from_db()
    assert commit.status == OrderImportStatus.DONE and commit.created_count == 2
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["SH01-1", "SH01-2"]
    again, created = import_jobs.commit_dry_run(actor=alice, job=dry_run)
    assert (again.pk, created) == (commit.pk, False)
    with pytest.raises(Conflict):
        import_jobs.commit_dry_run(actor=alice, job=commit)  # not a dry run
    entry = AuditLog.objects.get(action="orders.import")
    assert entry.object_id == str(commit.pk) and entry.detail["created"] == 2


def test_uploads_are_refused_before_anything_is_kept(alice, carol, members):
    with pytest.raises(InvalidInput) as refused:
        import_jobs.create_job(actor=alice, upload=upload("order_number,amount\n1,2\n"), mode="all")
    assert "channel" in refused.value.details["file"][0]
    with pytest.raises(InvalidInput) as refused:
        import_jobs.create_job(actor=alice, upload=upload("%PDF-1.4\n"), mode="all")
    assert "PDF" in refused.value.details["file"][0]
    with pytest.raises(Forbidden):
        import_jobs.create_job(actor=carol, upload=upload(GOOD), mode="all")
    assert not OrderImportJob.objects.exists()


def test_a_store_managers_job_is_bound_to_their_store(bob, store_a, members):
    job = run(bob, GOOD.replace("SH01-2,pos,2026-11-20 15:00,SH01", "BJ-2,pos,2026-11-20 15:00,BJ01"), "valid")
    assert job.store == store_a and job.status == OrderImportStatus.DONE
    assert list(Order.objects.values_list("external_id", flat=True)) == ["SH01-1"]
    assert "BJ01" in job.rendered_errors()[0]["message"]


def test_the_jobs_time_bounds_its_statements(alice, members, settings):
    settings.ORDER_IMPORT_INLINE_SECONDS = 0.000001
    job = run(alice, GOOD, "all")
    assert job.status == OrderImportStatus.FAILED and "longer than" in job.summary
    assert not Order.objects.exists()



# --- the worker and the sweeper --------------------------------------------------------------------


def test_a_large_file_runs_in_the_worker_once(celery_worker, alice, members, settings):
    settings.ORDER_IMPORT_INLINE_MAX_BYTES = 0
    text = HEADER + "".join(f"W-{i},pos,2026-11-20 14:03,SH01,,{i + 1}.00\n" for i in range(1500))
    with transaction.atomic():
        job = import_jobs.create_job(actor=alice, upload=upload(text), mode="all")
        import_jobs.start_job(job=job)
        assert OrderImportJob.objects.get(pk=job.pk).status == OrderImportStatus.PENDING  # queued on commit
    tasks.run_order_import.delay(job.pk)  # delivered twice
    assert wait_for(lambda: OrderImportJob.objects.get(pk=job.pk).status == OrderImportStatus.DONE), \
        OrderImportJob.objects.get(pk=job.pk).summary
    time.sleep(0.5)
    job.refresh_from_db()
    assert (job.created_count, job.orders_checked, job.attempts) == (1500, 1500, 1)
    assert Order.objects.count() == 1500


def test_the_sweeper_retries_a_dead_attempt_then_gives_up(celery_worker, alice, members):
    job = import_jobs.create_job(actor=alice, upload=upload(GOOD), mode="all")
    OrderImportJob.objects.filter(pk=job.pk).update(status=OrderImportStatus.RUNNING, attempts=1)  # no lock held
    outcome = tasks.resume_order_imports.apply().get()
    assert outcome["retried"] == [job.pk]
    assert wait_for(lambda: OrderImportJob.objects.get(pk=job.pk).status == OrderImportStatus.DONE)
    assert OrderImportJob.objects.get(pk=job.pk).attempts == 2 and Order.objects.count() == 2
    stuck = import_jobs.create_job(actor=alice, upload=upload(GOOD), mode="all")
    OrderImportJob.objects.filter(pk=stuck.pk).update(status=OrderImportStatus.RUNNING, attempts=2)
    assert import_jobs.sweep()["failed"] == [stuck.pk]
    stuck.refresh_from_db()
    assert stuck.status == OrderImportStatus.FAILED and "2 times" in stuck.summary


def test_the_sweeper_queues_a_job_whose_message_was_lost(celery_worker, alice, members):
    job = import_jobs.create_job(actor=alice, upload=upload(GOOD), mode="all")
    OrderImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert import_jobs.sweep()["queued"] == [job.pk]
    assert wait_for(lambda: OrderImportJob.objects.get(pk=job.pk).status == OrderImportStatus.DONE)


def test_a_running_attempt_is_left_alone(alice, members):
    job = import_jobs.create_job(actor=alice, upload=upload(GOOD), mode="all")
    OrderImportJob.objects.filter(pk=job.pk).update(status=OrderImportStatus.RUNNING, attempts=1)
    assert import_jobs._lock(job.pk)  # this connection's attempt holds the job
    try:
        from django.db import connections

        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [import_jobs.LOCK_CLASS, job.pk])
                assert cursor.fetchone()[0] is False
        finally:
            other.close()
        assert import_jobs.run_job(job_id=job.pk) is None  # not pending: the claim refuses it
        assert OrderImportJob.objects.get(pk=job.pk).attempts == 1
    finally:
        import_jobs._unlock(job.pk)


# --- the API -----------------------------------------------------------------------------------------


def test_api_creates_a_job_and_reads_its_report(key_client, members, store_a, store_b):
    writer = key_client(scopes=["orders:read", "orders:write"], store=store_a)
    created = writer.post("/api/v1/orders/imports/", {"file": upload(ONE_BAD), "mode": "dry_run"},
                          format="multipart")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["store"], body["orders"], body["invalid_orders"]) == ("done", "SH01", 3, 1)
    assert body["errors"][0]["row"] == 4 and body["errors"][0]["column"] == "placed_at"
    job = writer.get(f"/api/v1/orders/imports/{body['id']}/").json()
    assert job["message"].startswith("Dry run")
    listed = writer.get("/api/v1/orders/imports/").json()["results"]
    assert [j["id"] for j in listed] == [body["id"]] and "errors" not in listed[0]
    committed = writer.post(f"/api/v1/orders/imports/{body['id']}/commit/")
    assert committed.status_code == 201 and committed.json()["created_count"] == 2
    assert writer.post(f"/api/v1/orders/imports/{body['id']}/commit/").status_code == 200
    other_store = key_client(scopes=["orders:read", "orders:write"], store=store_b)
    assert other_store.get(f"/api/v1/orders/imports/{body['id']}/").status_code == 404
    refused = writer.post("/api/v1/orders/imports/", {"file": upload("order_number\n1\n")}, format="multipart")
    assert refused.status_code == 400 and "file" in refused.json()["error"]["details"]


def test_api_answers_202_while_a_worker_runs_it(key_client, members, settings):
    settings.ORDER_IMPORT_INLINE_MAX_BYTES = 0
    writer = key_client(scopes=["orders:read", "orders:write"])
    created = writer.post("/api/v1/orders/imports/", {"file": upload(GOOD), "mode": "all"}, format="multipart")
    assert created.status_code == 202 and created.json()["status"] == "pending"
    assert writer.get(f"/api/v1/orders/imports/{created.json()['id']}/").json()["status"] == "pending"


# --- the dashboard ---------------------------------------------------------------------------------


def test_dashboard_upload_leads_to_the_jobs_page_which_polls_while_it_runs(client, alice, members, settings):
    client.force_login(alice)
    response = client.post(reverse("order-import"), {"file": upload(ONE_BAD), "mode": "dry_run"})
    job = OrderImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("order-import-job", args=[job.pk])
    page = client.get(response["Location"])
    body = page.content.decode()
    assert 'data-status="done"' in body and "hx-trigger" not in body and 'data-testid="import-commit"' in body
    committed = client.post(reverse("order-import-commit", args=[job.pk]), follow=True)
    assert "These orders were imported" not in committed.content.decode()
    assert Order.objects.count() == 2
    assert "These orders were imported" in client.get(reverse("order-import-job", args=[job.pk])).content.decode()
    settings.ORDER_IMPORT_INLINE_MAX_BYTES = 0
    client.post(reverse("order-import"), {"file": upload(GOOD), "mode": "all"})
    waiting = OrderImportJob.objects.filter(status=OrderImportStatus.PENDING).get()
    partial = client.get(reverse("order-import-job", args=[waiting.pk]), HTTP_HX_REQUEST="true")
    text = partial.content.decode()
    assert 'hx-trigger="every 2s"' in text and "<html" not in text
    listing = client.get(reverse("order-import")).content.decode()
    assert waiting.original_name in listing


def test_dashboard_refuses_a_bad_file_on_the_form(client, alice, members):
    client.force_login(alice)
    page = client.post(reverse("order-import"), {"file": upload("order_number,amount\n1,2\n"), "mode": "all"})
    assert page.status_code == 400 and "placed_at" in page.content.decode()
    assert not OrderImportJob.objects.exists()


def test_other_stores_jobs_are_not_found(client, alice, bob, dave, members):
    job = run(bob, GOOD)
    client.force_login(dave)
    assert client.get(reverse("order-import-job", args=[job.pk])).status_code == 403  # clerks: no imports
    operator_job = run(alice, GOOD)
    client.force_login(bob)
    assert client.get(reverse("order-import-job", args=[operator_job.pk])).status_code == 404
    assert client.get(reverse("order-import-job", args=[job.pk])).status_code == 200


# --- retention and erasure ----------------------------------------------------------------------------


def test_retention_deletes_old_upload_files_and_kept_errors(alice, members, settings):
    settings.SIYU_UPLOAD_RETENTION_DAYS = 30
    old, recent = run(alice, ONE_BAD), run(alice, ONE_BAD)
    OrderImportJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    orphan = io_storage().save("order-imports/2020/01/orphan.csv", SimpleUploadedFile("o.csv", b"x"))
    fresh_orphan = io_storage().save("order-imports/2026/12/fresh.csv", SimpleUploadedFile("f.csv", b"x"))
    past = (timezone.now() - timedelta(days=40)).timestamp()
    os.utime(io_storage().path(orphan), (past, past))
    counts = privacy.expire_import_files(now=timezone.now(), batch=100)
    assert counts == {"jobs": 1, "files": 1, "orphans": 1}
    assert not io_storage().exists(orphan) and io_storage().exists(fresh_orphan)
    old.refresh_from_db(), recent.refresh_from_db()
    assert (old.file.name, old.errors, old.orders) == ("", [], 3)
    assert not io_storage().exists(old.file.name or "x") and io_storage().exists(recent.file.name)


def test_retention_runs_as_a_registered_step(alice, members):
    from members import privacy_registry

    assert privacy_registry.retention_steps()["order_uploads"] is privacy.expire_import_files
    assert privacy_registry.erasure_steps()["order_imports"] is privacy.erase_import_files


def test_erasure_takes_the_member_out_of_kept_files_and_errors(alice, members, django_capture_on_commit_callbacks):
    text = ONE_BAD + "SH01-4,pos,bad date,SH01,13800130000,5.00\n"
    job = run(alice, text)
    before = job.file.name
    subject = ErasureSubject(member_ids=[members[0][0].pk], phones=["+8613800130000"])
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        counts = privacy.erase_import_files(subject)
    assert counts["files"] == 1 and counts["rows"] == 2 and counts["errors"] == 1
    job.refresh_from_db()
    content = job.file.open("rb").read().decode()
    assert "13800130000" not in content and "SH01-2" in content
    assert not io_storage().exists(before)
    assert [e["row"] for e in job.errors] == [4]


def test_an_all_or_nothing_import_with_an_invalid_order_records_nothing(alice, members):
    job = run(alice, ONE_BAD, "all")
    assert job.status == OrderImportStatus.FAILED and "nothing was imported" in job.summary
    assert (job.created_count, job.invalid_orders) == (0, 1) and not Order.objects.exists()
    assert not AuditLog.objects.filter(action="orders.import").exists()


def test_a_workbook_runs_as_a_job(alice, members):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["主订单编号", "平台", "付款时间", "门店", "买家实付金额"])
    sheet.append(["TB100", "天猫", "2026-11-01 20:00:00", "SH01", 129.0])
    data = io.BytesIO()
    book.save(data)
    job = import_jobs.create_job(actor=alice, upload=SimpleUploadedFile("tmall.xlsx", data.getvalue()), mode="all")
    assert (job.format, job.encoding) == ("xlsx", "")
    import_jobs.start_job(job=job)
    job.refresh_from_db()
    assert job.status == OrderImportStatus.DONE, job.summary
    assert Order.objects.get().external_id == "TB100"


def test_the_api_list_reads_a_fixed_number_of_queries(key_client, alice, members, django_assert_max_num_queries):
    reader = key_client(scopes=["orders:read"])
    run(alice, GOOD)
    with django_assert_max_num_queries(8) as few:
        assert len(reader.get("/api/v1/orders/imports/").json()["results"]) == 1
    for _ in range(5):
        run(alice, ONE_BAD)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(reader.get("/api/v1/orders/imports/").json()["results"]) == 6


def test_erasure_rewrites_a_file_a_dry_run_and_its_import_share(alice, members, django_capture_on_commit_callbacks):
    dry_run = run(alice, GOOD)
    commit, _created = import_jobs.commit_dry_run(actor=alice, job=dry_run)
    shared = dry_run.file.name
    subject = ErasureSubject(member_ids=[members[0][0].pk], phones=["+8613800130000"])
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        counts = privacy.erase_import_files(subject)
    assert (counts["files"], counts["rows"]) == (1, 1)
    dry_run.refresh_from_db(), commit.refresh_from_db()
    assert dry_run.file.name == commit.file.name != shared
    assert not io_storage().exists(shared)
    assert "13800130000" not in commit.file.open("rb").read().decode()
