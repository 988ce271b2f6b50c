"""Order file import: one row per line (POS / Tmall exports), Chinese headers, GB18030, XLSX, dry run,
all-or-nothing and valid-rows modes, errors by row and column, store managers kept to their store."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.orders import imports
from loyalty.orders.models import Order, OrderLine
from members.models import Identity

CHINESE = """订单号,渠道,下单时间,门店,手机号,商品编码,商品名称,品类,数量,商品金额
SH01-1,门店,2026-11-20 14:03,SH01,13800130000,MP-900,有机奶粉 900g,奶粉,1,298.00
SH01-1,门店,2026-11-20 14:03,SH01,13800130000,DP-L,纸尿裤 L,纸尿裤,2,60.00
SH01-2,门店,2026-11-21 10:00,SH01,,TOY-1,安抚玩具,玩具,1,39.90
"""


def upload(text: str, name="orders.csv", encoding="utf-8"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def test_dry_run_checks_everything_and_writes_nothing(alice, members):
    report = imports.import_orders(upload=upload(CHINESE), mode=imports.Mode.DRY_RUN, actor=alice)
    assert (report.rows, report.orders, report.created, report.invalid_orders) == (3, 2, 2, 0)
    assert report.ok and not report.written
    assert not Order.objects.exists()


def test_gb18030_rows_per_line_become_orders_with_lines(alice, members):
    report = imports.import_orders(upload=upload(CHINESE, encoding="gb18030"), mode=imports.Mode.ALL, actor=alice)
    assert report.written and report.created == 2
    first = Order.objects.get(external_id="SH01-1")
    assert first.total_amount == 358 and first.member_id == members[0][0].pk
    assert list(first.lines.values_list("category", flat=True)) == ["奶粉", "纸尿裤"]
    assert Order.objects.get(external_id="SH01-2").member_id is None
    again = imports.import_orders(upload=upload(CHINESE), mode=imports.Mode.ALL, actor=alice)
    assert (again.created, again.existing) == (0, 2)
    assert OrderLine.objects.count() == 3


BAD = """order_number,channel,placed_at,store,total_amount,currency,product,line_amount
A1,pos,2026-11-20 10:00,SH01,100.00,CNY,奶粉,100.00
A2,pos,2026-11-20 10:00,SH01,-5,CNY,,
A3,pos,2026-11-20 10:00,SH01,10.00,USD,,
A4,pos,not a date,SH01,10.00,CNY,,
A5,pos,2026-11-20 10:00,SH01,50.00,CNY,纸尿裤,40.00
A6,pos,2026-11-20 10:00,SH01,20.00,CNY,玩具,abc
A7,pos,2026-11-20 10:00,SH01,20.00,CNY,玩具,20.00
A7,pos,2026-11-21 10:00,SH01,20.00,CNY,玩具,20.00
"""


def test_errors_name_row_and_column_and_all_mode_writes_nothing(alice, stores):
    report = imports.import_orders(upload=upload(BAD), mode=imports.Mode.ALL, actor=alice)
    assert not report.written and not Order.objects.exists()
    found = {(e.row, e.column) for e in report.errors}
    assert found == {
        (3, "total_amount"),
        (4, "currency"),
        (5, "placed_at"),
        (6, "line_amount"),
        (7, "line_amount"),
        (9, "placed_at"),
    }
    assert report.invalid_orders == 6 and report.created == 1


def test_valid_mode_records_the_valid_orders(alice, stores):
    report = imports.import_orders(upload=upload(BAD), mode=imports.Mode.VALID, actor=alice)
    assert report.written
    assert list(Order.objects.values_list("external_id", flat=True)) == ["A1"]


def test_xlsx_tmall_export_keeps_pending_buyers(alice, members):
    from openpyxl import Workbook

    Identity.objects.create(member=members[0][0], channel="tmall", namespace="", external_id="nick_known")
    book = Workbook()
    sheet = book.active
    sheet.append(["主订单编号", "平台", "付款时间", "买家会员名", "买家实付金额"])
    sheet.append(["TB100", "天猫", "2026-11-01 20:00:00", "nick_known", 129.0])
    sheet.append(["TB101", "天猫", "2026-11-01 21:00:00", "nick_new", 59.9])
    data = io.BytesIO()
    book.save(data)
    report = imports.import_orders(
        upload=SimpleUploadedFile("tmall.xlsx", data.getvalue()), mode=imports.Mode.ALL, actor=alice
    )
    assert report.created == 2, report.errors
    assert Order.objects.get(external_id="TB100").member_id == members[0][0].pk
    pending = Order.objects.get(external_id="TB101")
    assert pending.member_id is None and (pending.buyer_channel, pending.buyer_external_id) == ("tmall", "nick_new")


def test_missing_columns_are_named(client, alice):
    client.force_login(alice)
    response = client.post(reverse("order-import"), {"file": upload("order_number,amount\n1,2\n"), "mode": "all"})
    assert response.status_code == 400
    assert "channel" in response.content.decode() and "placed_at" in response.content.decode()


def test_store_manager_imports_only_into_own_store(client, bob, members):
    text = CHINESE.replace("SH01-2,门店,2026-11-21 10:00,SH01", "BJ-9,门店,2026-11-21 10:00,BJ01")
    client.force_login(bob)
    response = client.post(reverse("order-import"), {"file": upload(text), "mode": "valid"}, follow=True)
    assert response.status_code == 200 and response.redirect_chain[-1][0].startswith("/orders/import/")
    body = response.content.decode()
    assert "Unknown store code BJ01" in body
    assert list(Order.objects.values_list("external_id", flat=True)) == ["SH01-1"]


def test_clerks_cannot_import(client, carol):
    client.force_login(carol)
    assert client.get(reverse("order-import")).status_code == 403
    assert client.get(reverse("order-import-template")).status_code == 403


def test_template_downloads(client, alice):
    client.force_login(alice)
    response = client.get(reverse("order-import-template"))
    assert response.status_code == 200 and b"order_number" in response.content
