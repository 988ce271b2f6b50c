"""An order file with a huge cell: its row is refused by the cell's length (never echoing it), the
other orders are recorded, and the report stays small."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from loyalty.orders import imports
from loyalty.orders.models import Order
from tests.huge_cells import HUGE, xlsx_with_huge_shared_string

HEADER = ["order_number", "channel", "placed_at", "store", "total_amount", "currency", "product", "line_amount"]
GOOD = ["A1", "pos", "2026-11-20 10:00", "SH01", "100.00", "CNY", "奶粉", "100.00"]


def report_size(report) -> int:
    return len(json.dumps([vars(e) for e in report.errors], ensure_ascii=False).encode())


def check(report):
    assert report.written
    assert set(Order.objects.values_list("external_id", flat=True)) == {"A1"}
    assert [e.row for e in report.errors] == [3] and "1,500,000" in report.errors[0].message
    assert report_size(report) < 1000


def test_a_csv_cell_of_megabytes_makes_its_row_an_error_by_its_length(alice, members):
    bad = ["A2", "pos", "2026-11-20 10:00", "SH01", "10.00", "CNY", "纸" * 1_500_000, "10.00"]
    text = "\n".join(",".join(row) for row in (HEADER, GOOD, bad)) + "\n"
    upload = SimpleUploadedFile("orders.csv", text.encode(), content_type="text/csv")
    check(imports.import_orders(upload=upload, mode=imports.Mode.VALID, actor=alice))


def test_an_xlsx_shared_string_of_megabytes_makes_its_row_an_error(alice, members):
    bad = ["A2", "pos", "2026-11-20 10:00", "SH01", "10.00", "CNY", HUGE, "10.00"]
    data = xlsx_with_huge_shared_string([HEADER, GOOD, bad], "x" * 1_500_000)
    upload = SimpleUploadedFile("orders.xlsx", data)
    check(imports.import_orders(upload=upload, mode=imports.Mode.VALID, actor=alice))


def test_long_messages_are_bounded(alice, members):
    bad = ["A2", "pos", "2026-11-20 10:00", "SH01", "x" * 900, "CNY", "", ""]
    text = "\n".join(",".join(row) for row in (HEADER, GOOD, bad)) + "\n"
    upload = SimpleUploadedFile("orders.csv", text.encode(), content_type="text/csv")
    report = imports.import_orders(upload=upload, mode=imports.Mode.VALID, actor=alice)
    assert [e.row for e in report.errors] == [3]
    assert all(len(e.message) <= imports.MESSAGE_MAX + 1 for e in report.errors)
