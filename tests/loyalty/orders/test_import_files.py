"""Order file import: what the file is comes from its content, a CSV's encoding is detected or
chosen (refused when unclear or contradicted, never guessed), and the import's statements are
bounded in time (a file that takes longer writes nothing)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.orders import imports
from loyalty.orders.models import Order
from scrm.files import EncodingUnclear, FileError

PRODUCTS = [
    "有機奶粉",
    "紙尿褲",
    "安撫玩具",
    "嬰兒濕巾",
    "保溫水壺",
    "兒童牙刷",
    "草莓果醬",
    "黑巧克力",
    "烏龍茶",
    "芒果乾",
]


def orders_csv(encoding: str, repeat: int = 2) -> bytes:
    rows = "".join(
        f"TW-{i},門店,2026-11-20 14:03,SH01,,SKU-{i},{name},食品,1,{100 + i}.00\n"
        for i, name in enumerate(PRODUCTS * repeat)
    )
    return (
        "order_number,channel,placed_at,store,phone,sku,product,category,quantity,line_amount\n".replace("門店", "pos")
        + rows.replace("門店", "pos")
    ).encode(encoding)


def upload(content: bytes, name="orders.csv"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "a PNG image"),
        (b"%PDF-1.4\n", "a PDF document"),
        (b"<html><body><table></table></body></html>", "a web page"),
        (bytes(range(256)) * 4, "a binary file"),
    ],
)
def test_a_file_that_is_no_sheet_is_refused_saying_what_it_looks_like(alice, content, what):
    with pytest.raises(FileError, match=what):
        imports.import_orders(upload=upload(content), mode=imports.Mode.ALL, actor=alice)


def test_big5_orders_keep_their_product_names(alice, members):
    report = imports.import_orders(upload=upload(orders_csv("big5")), mode=imports.Mode.ALL, actor=alice)
    assert report.written and report.created == 20, report.errors[:3]
    assert Order.objects.get(external_id="TW-7").lines.get().name == "黑巧克力"


def test_a_declared_encoding_the_text_contradicts_is_refused_on_the_form(alice, members, client):
    client.force_login(alice)
    handle = io.BytesIO(orders_csv("big5"))
    handle.name = "orders.csv"
    page = client.post(reverse("order-import"), {"file": handle, "mode": imports.Mode.ALL, "encoding": "shift_jis"})
    assert page.status_code == 400
    assert "Big5" in page.context["form"].errors["encoding"][0]
    assert not Order.objects.exists()
    with pytest.raises(EncodingUnclear):
        imports.import_orders(upload=upload(orders_csv("big5")), mode=imports.Mode.ALL, actor=alice, encoding="gb18030")


def test_a_statement_past_its_time_writes_nothing(alice, members, monkeypatch):
    monkeypatch.setattr(imports, "STATEMENT_TIMEOUT_MS", 1)
    with pytest.raises(FileError, match="took longer than"):
        imports.import_orders(upload=upload(orders_csv("utf-8", repeat=200)), mode=imports.Mode.ALL, actor=alice)
    assert not Order.objects.exists()
