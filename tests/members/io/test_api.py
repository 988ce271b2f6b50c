"""The import and export API: scopes, store binding (404 across stores), the one error shape,
413 for a file over the limit, streamed exports, and the OpenAPI description."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from members.io.models import ImportJob, ImportStatus
from members.models import Member
from scrm.models import AuditLog

pytestmark = [pytest.mark.django_db]

GOOD = "name,phone,wecom\n张三,13800138000,wm1\n"
BAD = "name,phone\n张三,13800138000\n李四,1380013800\n"


def error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["status"] == status and body["message"]
    if code:
        assert body["code"] == code
    return body


def post_file(client, content, mode="valid_rows", name="members.csv"):
    handle = io.BytesIO(content.encode() if isinstance(content, str) else content)
    handle.name = name
    return client.post("/api/v1/imports/", {"file": handle, "mode": mode}, format="multipart")


@pytest.fixture(autouse=True)
def _store(store_a):
    return store_a


def session(user):
    client = APIClient()
    client.force_login(user)
    return client


def test_operator_imports_and_reads_the_report(alice):
    client = session(alice)
    response = post_file(client, BAD)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["rows_total"], body["rows_invalid"], body["created_count"]) == ("done", 2, 1, 1)
    assert body["errors"] == [{"row": 3, "column": "phone", "column_number": 2, "value": "1380013800",
                               "code": "phone", "params": {"value": "1380013800"},
                               "message": "“1380013800” is not a valid phone number."}]
    assert body["created_by"] == "alice"
    detail = client.get(f"/api/v1/imports/{body['id']}/")
    assert detail.json()["errors"] == body["errors"]
    report = client.get(body["report_url"])
    assert report.status_code == 200
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text)))[1][:3] == ["3", "phone", "1380013800"]


def test_bad_mode_and_missing_file_are_validation_errors(alice):
    client = session(alice)
    body = error(client.post("/api/v1/imports/", {"mode": "fast"}, format="multipart"), 400, "validation_error")
    assert set(body["details"]) == {"file", "mode"}


def test_a_file_over_the_limit_is_413(alice, settings):
    settings.MEMBER_IMPORT_MAX_BYTES = 100
    body = error(post_file(session(alice), "name,phone\n" + "x,13800138000\n" * 20), 413, "payload_too_large")
    assert "the limit is 100" in body["message"].replace("\xa0", " ")
    assert not ImportJob.objects.exists()


def test_large_files_are_queued(alice, settings, django_capture_on_commit_callbacks):
    settings.MEMBER_IMPORT_INLINE_MAX_BYTES = 0
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_file(session(alice), GOOD)
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert len(callbacks) == 1  # the task is sent once the job is committed


def test_keys_need_the_imports_scope(key_client):
    client = key_client(scopes=["members:read", "members:write"])
    error(post_file(client, GOOD), 403, "permission_denied")
    error(client.get("/api/v1/imports/"), 403)


def test_store_roles_use_the_dashboard_not_the_api(bob, carol):
    error(post_file(session(bob), GOOD), 403)
    error(post_file(session(carol), GOOD), 403)


def test_a_store_bound_key_imports_into_its_store_and_sees_only_its_jobs(key_client, store_a, store_b, alice):
    client = key_client(scopes=["imports:read", "imports:write"], store=store_a, name="POS SH01")
    response = post_file(client, "name,phone,home_store\n甲,13800138000,\n乙,13800138001,BJ01\n")
    body = response.json()
    assert (body["store"], body["created_by"], body["rows_invalid"]) == ("SH01", "API key POS SH01", 1)
    assert Member.objects.get().home_store == store_a
    entry = AuditLog.objects.get(action="members.import")
    assert (entry.api_key.name, entry.user, entry.store) == ("POS SH01", None, store_a)
    other = post_file(session(alice), GOOD).json()
    assert other["store"] is None
    error(client.get(f"/api/v1/imports/{other['id']}/"), 404, "not_found")
    assert [job["id"] for job in client.get("/api/v1/imports/").json()["results"]] == [body["id"]]


def test_export_csv_for_an_operator_key(key_client, members, store_a):
    client = key_client(scopes=["exports:read", "phones:read"])  # full phones: given by name
    response = client.get(f"/api/v1/exports/members/?columns=id,name,phone&store={store_a.pk}",
                          HTTP_ACCEPT="text/csv")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["id", "name", "phone"]
    assert [r[2] for r in rows[1:]] == ["+8613800130002", "+8613800130001", "+8613800130000"][::-1]
    assert response["X-Export-Rows"] == "3"
    entry = AuditLog.objects.get(action="members.export")
    assert entry.api_key is not None and entry.detail["filters"] == {"store": str(store_a.pk)}


def test_export_by_a_store_bound_key_is_masked_and_scoped(key_client, members, store_a, store_b):
    client = key_client(scopes=["exports:read"], store=store_b)
    response = client.get("/api/v1/exports/members/?format=csv&columns=name,phone")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1:] == [["李0", "'+86 139****0000"], ["李1", "'+86 139****0001"]]
    listing = client.get("/api/v1/exports/").json()
    assert listing["masked"] is True and "phone" in {c["key"] for c in listing["columns"]}


def test_export_errors(key_client, members):
    client = key_client(scopes=["exports:read"])
    body = error(client.get("/api/v1/exports/members/?columns=name,shoe_size"), 400, "validation_error")
    assert "shoe_size" in str(body["details"]["columns"])
    body = error(client.get("/api/v1/exports/members/?stage=nonsense"), 400)
    assert "stage" in body["details"]
    body = error(client.get("/api/v1/exports/members/?segment=3"), 403)
    assert "segments:read" in body["message"]
    body = error(key_client(scopes=["exports:read", "segments:read"]).get("/api/v1/exports/members/?segment=3"), 400)
    assert body["details"]["segment"] == ["Unknown segment 3."]
    error(key_client(scopes=["members:read"]).get("/api/v1/exports/members/"), 403)
    assert not AuditLog.objects.filter(action="members.export").exists()


def test_an_export_with_an_unknown_filter_is_refused_not_widened_to_everyone(key_client, members, store_a):
    client = key_client(scopes=["exports:read"])
    body = error(client.get(f"/api/v1/exports/members/?home_store={store_a.pk}&columns=name,phone"),
                 400, "validation_error")
    assert list(body["details"]) == ["home_store"]
    assert "Unknown filter" in body["details"]["home_store"][0] and "store" in body["details"]["home_store"][0]
    body = error(client.get(f"/api/v1/exports/members/?store={store_a.pk}&tags=1&levl=2"), 400, "validation_error")
    assert set(body["details"]) == {"tags", "levl"}
    assert not AuditLog.objects.filter(action="members.export").exists()


def test_the_member_list_refuses_an_unknown_filter(key_client, members, store_a):
    client = key_client(scopes=["members:read"])
    body = error(client.get(f"/api/v1/members/?home_store={store_a.pk}"), 400, "validation_error")
    assert list(body["details"]) == ["home_store"]
    response = client.get(f"/api/v1/members/?store={store_a.pk}&page_size=2&q=张")
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 2
    cursor = response.json()["next"].split("?", 1)[1]
    assert client.get(f"/api/v1/members/?{cursor}").status_code == 200


def test_export_xlsx(key_client, members):
    from openpyxl import load_workbook

    response = key_client(scopes=["exports:read"]).get("/api/v1/exports/members/?format=xlsx&columns=name")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).worksheets[0]
    assert sorted(r[0] for r in sheet.iter_rows(min_row=2, values_only=True)) == ["张0", "张1", "张2", "李0", "李1"]


def test_openapi_describes_imports_and_exports(tmp_path):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json",
                 "--file", str(target), "--validate", "--fail-on-warn")
    text = target.read_text()
    for path in ("/api/v1/imports/", "/api/v1/imports/{id}/", "/api/v1/imports/{id}/report/",
                 "/api/v1/exports/", "/api/v1/exports/members/"):
        assert f'"{path}"' in text, path
    assert "multipart/form-data" in text and "text/csv" in text


def test_imports_listing_statuses(alice):
    post_file(session(alice), GOOD)
    jobs = session(alice).get("/api/v1/imports/").json()["results"]
    assert [job["status"] for job in jobs] == [ImportStatus.DONE]
