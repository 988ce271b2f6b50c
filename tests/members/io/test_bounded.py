"""Imports stay bounded whatever a cell holds: a huge cell makes its row an error that gives its
length, never its text; an error echoes at most a preview of a value (in the message, the stored
errors, the report and the API); the XLSX reader keeps at most a cell's worth of a huge shared
string; and the list of imports carries no errors at all."""

from __future__ import annotations

import io
import json
import tracemalloc

import pytest
from rest_framework.test import APIClient

from members.io.models import ImportJob, ImportStatus
from members.models import Member
from scrm import files
from tests.huge_cells import HUGE, xlsx_with_huge_shared_string
from tests.members.io.conftest import errors_by_row, run_import

pytestmark = pytest.mark.django_db

MB = 1_000_000


def session(user):
    client = APIClient()
    client.force_login(user)
    return client


def size(value) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


def assert_small_everywhere(alice, job, limit=4000):
    assert size(job.errors) < limit, size(job.errors)
    assert len(job.summary.encode()) < limit
    with job.report.open("rb") as handle:
        report = handle.read()
    assert len(report) < limit, len(report)
    detail = session(alice).get(f"/api/v1/imports/{job.pk}/")
    assert detail.status_code == 200 and len(detail.content) < limit + 2000, len(detail.content)
    listing = session(alice).get("/api/v1/imports/")
    assert listing.status_code == 200 and len(listing.content) < 2000, len(listing.content)
    return report


def test_a_csv_cell_of_megabytes_is_refused_by_its_length_and_the_other_rows_import(alice, store_a):
    content = f"name,phone,home_store\n{'名' * (3 * MB // 2)},13800138000,SH01\n王五,13900139000,SH01\n"
    job = run_import(alice, content)
    assert job.status == ImportStatus.DONE, (job.message, job.errors)
    assert (job.rows_total, job.rows_invalid, job.created_count) == (2, 1, 1)
    messages = [message for _column, message in errors_by_row(job)[2]]
    assert any("1,500,000" in m for m in messages) and not any("名名" in m for m in messages), messages
    assert Member.objects.get().name == "王五"
    report = assert_small_everywhere(alice, job)
    assert b"1,500,000" in report


def test_long_values_are_echoed_as_a_preview(alice, store_a, vocabulary):
    # Under the longest cell a column takes, so checked by their column, but each longer than a preview.
    phone, note = "9" * 3000, "长" * 3000
    job = run_import(alice, f"name,phone,attr:note\n张三,{phone},{note}\n")
    found = dict(errors_by_row(job)[2])
    assert "9" * files.PREVIEW_MAX + "…" in found["phone"] and "9" * (files.PREVIEW_MAX + 1) not in found["phone"]
    assert "长" * files.PREVIEW_MAX + "…" in found["attr:note"]
    assert all(len(e["value"]) <= files.PREVIEW_MAX + 1 for e in job.errors)
    report = assert_small_everywhere(alice, job)
    assert b"9" * (files.PREVIEW_MAX + 1) not in report


def test_an_xlsx_shared_string_of_megabytes_is_refused_by_its_length(alice, store_a):
    data = xlsx_with_huge_shared_string(
        [["name", "phone"], [HUGE, "13800138000"], ["王五", "13900139000"]], "x" * (2 * MB))
    job = run_import(alice, data, name="members.xlsx")
    assert job.status == ImportStatus.DONE, (job.message, job.errors)
    assert (job.rows_invalid, job.created_count) == (1, 1)
    messages = [message for _column, message in errors_by_row(job)[2]]
    assert any("2,000,000" in m for m in messages) and not any("xx" in m for m in messages), messages
    assert_small_everywhere(alice, job)


def test_the_xlsx_reader_keeps_at_most_a_cell_of_a_huge_shared_string():
    data = xlsx_with_huge_shared_string([["name"], [HUGE], ["短"]], "x" * (4 * MB))
    tracemalloc.start()
    try:
        rows = list(files.xlsx_rows(io.BytesIO(data)))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 * MB, peak
    (_n1, header), (_n2, [huge]), (_n3, [short]) = rows
    assert isinstance(huge, files.TooLong) and len(huge) == 4 * MB and str.__str__(huge) == ""
    assert short == "短"


def test_a_csv_reader_cell_over_excels_limit_keeps_no_text():
    text = "name,phone\n" + "y" * (files.CELL_MAX + 1) + ",1\n"
    (_n, header), (_m, [cell, phone]) = list(files.csv_rows(io.BytesIO(text.encode())))
    assert isinstance(cell, files.TooLong) and len(cell) == files.CELL_MAX + 1 and cell.strip() == ""
    assert phone == "1"


def test_the_list_of_imports_carries_no_errors_and_the_detail_bounds_them(alice):
    # A job stored before errors were bounded: 200 errors of 100 KB each.
    huge = [{"row": n, "column": "name", "column_number": 1, "value": "v" * 100_000, "message": "m" * 100_000}
            for n in range(2, 202)]
    job = ImportJob.objects.create(created_by=alice, status=ImportStatus.DONE, mode="valid_rows",
                                   original_name="old.csv", errors=huge, error_count=200)
    listing = session(alice).get("/api/v1/imports/")
    assert listing.status_code == 200 and len(listing.content) < 2000, len(listing.content)
    (item,) = listing.json()["results"]
    assert "errors" not in item and item["error_count"] == 200
    detail = session(alice).get(f"/api/v1/imports/{job.pk}/")
    assert detail.status_code == 200 and len(detail.content) < 300_000, len(detail.content)
    assert len(detail.json()["errors"]) == 200
