"""Member export: scoped to the actor's store, masked for store roles, audited, formula-safe,
streamed with a constant number of queries, and importable again."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from members.io import exports
from members.io.models import ImportStatus
from members.models import Consent, Identity, Member, MemberTag
from scrm.models import AuditLog
from tests.members.io.conftest import run_import

pytestmark = pytest.mark.django_db


def read_csv(export) -> list[list[str]]:
    data = b"".join(export.chunks).decode("utf-8")
    assert data.startswith("\ufeff")
    return list(csv.reader(io.StringIO(data[1:])))


def as_dicts(rows):
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


@pytest.fixture
def people(store_a, store_b, carol, dave, vocabulary):
    a = Member.objects.create(name="张三", phone="+8613800138000", home_store=store_a, owner=carol, gender="f",
                              attributes={"favourite_cacao": "70%", "child_birth_month": "2020-03",
                                          "flavours": ["黑巧", "白巧"]})
    Identity.objects.create(member=a, channel="wecom", external_id="wm001")
    Identity.objects.create(member=a, channel="miniprogram", namespace="wx5f", external_id="oM1")
    MemberTag.objects.create(member=a, tag=vocabulary["tags"]["黑巧"])
    MemberTag.objects.create(member=a, tag=vocabulary["tags"]["粤语"])
    Consent.objects.create(member=a, purpose="sensitive_data", channel="all", granted=True)
    b = Member.objects.create(name="=HYPERLINK(\"http://evil\")", phone="+8613900139000", home_store=store_b,
                              owner=dave, attributes={"note": "@SUM(A1)"})
    return a, b


COLUMNS = ["id", "name", "phone", "home_store", "owner", "tags", "wecom", "miniprogram", "attr:favourite_cacao",
           "attr:flavours", "attr:note", "created_at"]


def test_operator_exports_everything_unmasked(alice, people):
    a, b = people
    export = exports.export_members(actor=alice, params=QueryDict(), columns=COLUMNS + ["attr:child_birth_month"])
    rows = as_dicts(read_csv(export))
    assert [r["id"] for r in rows] == [str(a.pk), str(b.pk)]
    first = rows[0]
    assert (first["name"], first["phone"], first["home_store"], first["owner"]) == (
        "张三", "+8613800138000", "SH01", "carol")  # a phone starts no formula: no apostrophe
    assert first["tags"] == "口味偏好:黑巧;方言:粤语"
    assert (first["wecom"], first["miniprogram:wx5f"]) == ("wm001", "oM1")  # a column per namespace
    assert (first["attr:favourite_cacao"], first["attr:flavours"], first["attr:child_birth_month"]) == (
        "70%", "黑巧;白巧", "2020-03")
    assert export.masked is False


def test_formulas_are_neutralised_in_csv_and_xlsx(alice, people):
    rows = as_dicts(read_csv(exports.export_members(actor=alice, params=QueryDict(), columns=COLUMNS)))
    evil = rows[1]
    assert evil["name"] == "'=HYPERLINK(\"http://evil\")"
    assert evil["attr:note"] == "'@SUM(A1)"
    export = exports.export_members(actor=alice, params=QueryDict(), columns=COLUMNS, file_format="xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(export.chunks)), read_only=True).worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == [c if c != "miniprogram" else "miniprogram:wx5f" for c in COLUMNS]
    assert values[2][1] == "=HYPERLINK(\"http://evil\")"  # as written, in a text cell (below)
    full = load_workbook(io.BytesIO(b"".join(exports.export_members(
        actor=alice, params=QueryDict(), columns=COLUMNS, file_format="xlsx").chunks))).worksheets[0]
    name, phone = full.cell(row=3, column=2), full.cell(row=2, column=COLUMNS.index("phone") + 1)
    assert (name.data_type, name.quotePrefix) == ("s", True)  # never evaluated, even when edited
    assert (phone.value, phone.data_type) == ("+8613800138000", "s")  # shown as written, no apostrophe
    assert not any(cell.data_type == "f" for row in full.iter_rows() for cell in row)


def test_csv_neutralises_what_could_start_a_formula_and_leaves_phones_alone():
    from scrm.files import neutralise

    for phone in ("+8613800138000", "+86 138 0013 8000", "+1 415 555 0100"):
        assert neutralise(phone) == phone
    for formula in ("=1+1", "+1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx", "+86 138****8000"):
        assert neutralise(formula) == "'" + formula


def test_store_manager_gets_own_store_masked_and_no_sensitive_attributes(bob, people):
    a, _b = people
    assert "attr:child_birth_month" not in dict(exports.available_columns(bob))
    with pytest.raises(exports.ExportRefused) as refused:
        exports.export_members(actor=bob, params=QueryDict(), columns=["name", "attr:child_birth_month"])
    assert "attr:child_birth_month" in str(refused.value.details["columns"])
    export = exports.export_members(actor=bob, params=QueryDict(), columns=["id", "phone", "name"])
    rows = as_dicts(read_csv(export))
    assert rows == [{"id": str(a.pk), "phone": "'+86 138****8000", "name": "张三"}]
    assert export.masked is True
    # Naming another store in the filters finds nothing rather than leaking it.
    export = exports.export_members(actor=bob, params=QueryDict(f"store={people[1].home_store_id}"))
    assert read_csv(export)[1:] == []


def test_store_staff_cannot_export(carol, people):
    with pytest.raises(exports.ExportRefused) as refused:
        exports.export_members(actor=carol, params=QueryDict())
    assert refused.value.status == 403
    assert not AuditLog.objects.exists()


def test_filters_narrow_the_export_and_bad_filters_say_which(alice, people, store_a):
    rows = read_csv(exports.export_members(actor=alice, params=QueryDict(f"store={store_a.pk}&q=张"),
                                           columns=["name"]))
    assert rows == [["name"], ["张三"]]
    with pytest.raises(exports.ExportRefused) as refused:
        exports.export_members(actor=alice, params=QueryDict("stage=nonsense"))
    assert "stage" in refused.value.details


def test_every_export_is_audited(alice, bob, people, store_a):
    export = exports.export_members(actor=alice, params=QueryDict(f"store={store_a.pk}&stage="),
                                    columns=["id", "name"], ip="10.0.0.1")
    entry = AuditLog.objects.get()
    assert (entry.user, entry.action, entry.store, entry.ip) == (alice, "members.export", None, "10.0.0.1")
    assert entry.detail == {"format": "csv", "columns": ["id", "name"], "filters": {"store": str(store_a.pk)},
                            "rows": 1, "masked": False, "segment": None}
    assert export.rows == 1
    exports.export_members(actor=bob, params=QueryDict(), file_format="xlsx")
    entry = AuditLog.objects.order_by("-id").first()
    assert (entry.user, entry.store, entry.detail["format"], entry.detail["masked"]) == (bob, store_a, "xlsx", True)


def test_export_queries_do_not_grow_with_rows(alice, people, store_a, vocabulary):
    def queries_for_full_export():
        with CaptureQueriesContext(connection) as captured:
            rows = read_csv(exports.export_members(actor=alice, params=QueryDict(), columns=COLUMNS))
        return len(captured), len(rows)

    few, rows_few = queries_for_full_export()
    for i in range(40):
        m = Member.objects.create(name=f"m{i}", phone=f"+86138000{i:05d}", home_store=store_a)
        Identity.objects.create(member=m, channel="wecom", external_id=f"w{i}")
        MemberTag.objects.create(member=m, tag=vocabulary["tags"]["A2"])
    many, rows_many = queries_for_full_export()
    assert rows_many == rows_few + 40
    assert many == few <= 5  # definitions, identity namespaces, count, audit entry, one cursor


def test_xlsx_row_limit(alice, people, settings):
    settings.MEMBER_EXPORT_XLSX_MAX_ROWS = 1
    with pytest.raises(exports.ExportRefused, match="CSV"):
        exports.export_members(actor=alice, params=QueryDict(), file_format="xlsx")


def test_an_export_imports_again_unchanged(alice, people, vocabulary):
    a, _b = people
    columns = ["name", "phone", "home_store", "owner", "tags", "wecom", "attr:favourite_cacao"]
    data = b"".join(exports.export_members(actor=alice, params=QueryDict(f"store={a.home_store_id}"),
                                           columns=columns).chunks)
    job = run_import(alice, data, mode="strict")
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.created_count, job.updated_count, job.tags_added) == (0, 1, 0)
    assert Member.objects.count() == 2
    a.refresh_from_db()
    assert (a.name, a.phone, a.attributes["favourite_cacao"]) == ("张三", "+8613800138000", "70%")
