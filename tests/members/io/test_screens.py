"""Import and export screens per role: alice the operator, bob the manager of store A, carol and
dave the clerks (who may neither import nor export)."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import load_workbook

from members.io.models import ImportJob, ImportStatus
from members.models import Member
from scrm.models import AuditLog
from tests.members.io.conftest import run_import

pytestmark = [pytest.mark.django_db]


def login(user):
    client = Client()
    client.force_login(user)
    return client


def upload(client, content, mode="dry_run", name="members.csv"):
    return client.post("/members/import/", {"file": SimpleUploadedFile(name, content.encode()), "mode": mode})


def test_operator_uploads_a_dry_run_and_reads_the_errors(alice, store_a, vocabulary):
    client = login(alice)
    page = client.get("/members/import/")
    assert page.status_code == 200
    assert "attr:favourite_cacao" in page.content.decode() and 'data-testid="import-form"' in page.content.decode()
    response = upload(client, "姓名,手机号,标签\n张三,13800138000,口味偏好:黑巧\n李四,1380013800,口味偏好:榴莲\n")
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/members/import/{job.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "“1380013800” is not a valid phone number." in page
    assert "Unknown tag “口味偏好:榴莲”" in page
    assert 'data-status="done"' in page and "hx-trigger" not in page  # finished: no more polling
    assert Member.objects.count() == 0  # a dry run
    report = client.get(f"/members/import/{job.pk}/report.csv")
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert [r[:2] for r in rows[1:]] == [["3", "手机号"], ["3", "标签"]]


def test_running_job_page_polls_and_serves_its_partial(alice, store_a):
    job = ImportJob.objects.create(original_name="big.csv", format="csv", mode="strict", created_by=alice)
    client = login(alice)
    page = client.get(f"/members/import/{job.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in page and "<html" in page
    partial = client.get(f"/members/import/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="pending"' in partial and "<html" not in partial


def test_manager_imports_into_own_store_and_sees_only_own_jobs(alice, bob, store_a):
    other = run_import(alice, "name,phone\nx,13900139000\n", mode="valid_rows")
    client = login(bob)
    response = upload(client, "name,phone\n甲,13800138000\n", mode="valid_rows")
    job = ImportJob.objects.exclude(pk=other.pk).get()
    assert response.status_code == 302 and job.store == store_a and job.status == ImportStatus.DONE
    assert Member.objects.get(name="甲").home_store == store_a
    listing = client.get("/members/import/").content.decode()
    assert job.original_name in listing and f"/members/import/{other.pk}/" not in listing
    assert client.get(f"/members/import/{other.pk}/").status_code == 404
    assert client.get(f"/members/import/{other.pk}/report.csv").status_code == 404


@pytest.mark.parametrize("path", ["/members/import/", "/members/import/template.csv", "/members/export/"])
def test_store_staff_may_neither_import_nor_export(carol, dave, path):
    assert login(carol).get(path).status_code == 403
    assert login(dave).get(path).status_code == 403
    assert login(carol).post("/members/export/", {"format": "csv", "columns": ["name"]}).status_code == 403
    assert not AuditLog.objects.exists()


def test_a_file_over_the_limit_is_refused_with_its_size(alice, settings):
    settings.MEMBER_IMPORT_MAX_BYTES = 200
    response = upload(login(alice), "name,phone\n" + "张三,13800138000\n" * 30)
    assert response.status_code == 400
    page = response.content.decode().replace("\xa0", " ")
    assert "The file is 581" in page and "the limit is 200" in page
    assert not ImportJob.objects.exists()


def test_templates_list_the_columns(alice, vocabulary):
    client = login(alice)
    text = client.get("/members/import/template.csv").content.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    assert header[:8] == ["name", "phone", "gender", "birthday", "home_store", "owner", "source", "stage"]
    assert {"wecom", "tags", "attr:kids", "attr:child_birth_month"} <= set(header)
    workbook = load_workbook(io.BytesIO(client.get("/members/import/template.xlsx").content), read_only=True)
    first, guide = workbook.worksheets
    assert list(next(first.iter_rows(values_only=True))) == header
    described = {row[0]: row[1] for row in guide.iter_rows(min_row=2, values_only=True) if row and row[0]}
    assert "consent" in described["attr:child_birth_month"]
    assert login(alice).get("/members/import/template.pdf").status_code == 404


def test_export_page_keeps_the_filters_and_downloads_masked_for_a_manager(alice, bob, members, store_a):
    client = login(bob)
    page = client.get(f"/members/export/?store={store_a.pk}&stage=&q=张").content.decode()
    assert f'name="store" value="{store_a.pk}"' in page and 'name="q" value="张"' in page
    assert 'data-testid="export-count">3 members' in page
    assert "masked" in page
    response = client.post("/members/export/", {"store": store_a.pk, "q": "张1", "format": "csv",
                                                 "columns": ["name", "phone"]})
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows == [["name", "phone"], ["张1", "'+86 138****0001"]]
    entry = AuditLog.objects.get()
    assert (entry.user, entry.detail["rows"]) == (bob, 1)
    # the search words are not kept (they are a name or a phone); who was found is, by id
    assert entry.detail["filters"] == {"store": str(store_a.pk), "q": "[redacted]"}
    assert entry.detail["member_ids"] == [members[0][1].pk]
    response = login(alice).post("/members/export/", {"format": "xlsx", "columns": ["name", "phone"]})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).worksheets[0]
    assert ("张1", "+8613800130001") in list(sheet.iter_rows(values_only=True))


def test_import_list_queries_do_not_grow_with_jobs(alice, store_a, django_assert_max_num_queries):
    for i in range(3):
        ImportJob.objects.create(original_name=f"f{i}.csv", format="csv", created_by=alice, store=store_a)
    client = login(alice)
    with django_assert_max_num_queries(12) as few:
        client.get("/members/import/")
    for i in range(20):
        ImportJob.objects.create(original_name=f"g{i}.csv", format="csv", created_by=alice, store=store_a)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/members/import/")
