"""An export imports back as it was: consent (granted / withdrawn per purpose and channel) and
identities with a namespace (a column per namespace, ids containing '/' included), in English and
in Chinese headers, scoped and masked as every export is."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from members.io import columns, exports
from members.io.models import ImportStatus
from members.models import Consent, ConsentRecord, Identity, Member
from members.services.consent import can_message, set_consent
from tests.members.io.conftest import run_import

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "zh-hans"]


def export_bytes(actor, language, **kwargs) -> bytes:
    with translation.override(language):
        return b"".join(exports.export_members(actor=actor, params={}, **kwargs).chunks)


def table(content: bytes) -> list[dict[str, str]]:
    header, *rows = csv.reader(io.StringIO(content.decode("utf-8-sig")))
    return [dict(zip(header, row, strict=True)) for row in rows]


def import_back(actor, content: bytes, language: str):
    with translation.override(language):
        job = run_import(actor, content, mode="strict", name="export.csv")
    assert job.status == ImportStatus.DONE and job.error_count == 0, (job.message, job.errors)
    return job


def member(name, phone, store, **kwargs) -> Member:
    found = Member.objects.create(name=name, phone=phone, home_store=store, **kwargs)
    Identity.objects.create(member=found, channel="phone", namespace="", external_id=phone)  # as upsert keeps it
    return found


def consent_state():
    return set(Consent.objects.values_list("member_id", "purpose", "channel", "granted"))


# --- consent ----------------------------------------------------------------------------------------


@pytest.fixture
def consenting(alice, store_a, store_b):
    """Members of two stores with every kind of consent answer (and one with none)."""
    wang = member("王芳", "+8613800138000", store_a)
    li = member("李雷", "+8613800138001", store_a)
    zhao = member("赵六", "+8613800138002", store_a)
    qian = member("钱七", "+8613900139000", store_b)
    set_consent(member=wang, purpose="marketing", channel="all", granted=True, actor=alice)
    set_consent(member=wang, purpose="profiling", channel="all", granted=True, actor=alice)
    set_consent(member=wang, purpose="sensitive_data", channel="all", granted=True, actor=alice)
    # withdrawn everywhere, then granted again on SMS only: the channel answer outlives the 'all' one
    set_consent(member=li, purpose="marketing", channel="wecom", granted=True, actor=alice)
    set_consent(member=li, purpose="marketing", channel="all", granted=False, actor=alice)
    set_consent(member=li, purpose="marketing", channel="sms", granted=True, actor=alice)
    set_consent(member=li, purpose="profiling", channel="all", granted=False, actor=alice)
    set_consent(member=qian, purpose="marketing", channel="email", granted=True, actor=alice)
    return wang, li, zhao, qian


@pytest.mark.parametrize("language", LANGUAGES)
def test_default_export_writes_consent_and_imports_it_back(alice, consenting, language):
    wang, li, zhao, qian = consenting
    content = export_bytes(alice, language)  # the default columns
    rows = {row[columns.header_for("id", language)]: row for row in table(content)}
    marketing = columns.header_for("consent:marketing", language)
    sms = columns.header_for("consent:marketing:sms", language)
    wecom = columns.header_for("consent:marketing:wecom", language)
    profiling = columns.header_for("consent:profiling", language)
    if language == "zh-hans":
        assert (marketing, sms, profiling) == ("营销同意", "营销同意:短信", "个性化推荐同意")
    assert [rows[str(wang.pk)][h] for h in (marketing, sms, profiling)] == ["granted", "", "granted"]
    assert [rows[str(li.pk)][h] for h in (marketing, sms, wecom, profiling)] == [
        "withdrawn", "granted", "withdrawn", "withdrawn"]
    assert [rows[str(zhao.pk)][h] for h in (marketing, sms, profiling)] == ["", "", ""]
    assert rows[str(qian.pk)][columns.header_for("consent:marketing:email", language)] == "granted"
    assert not any("sensitive" in h for h in rows[str(wang.pk)])  # recorded on the profile, not exported

    before = consent_state()
    unchanged = import_back(alice, content, language)  # the same answers: nothing changes, no history
    assert consent_state() == before
    assert not ConsentRecord.objects.filter(source="import").exists()
    assert unchanged.updated_count == 4

    Consent.objects.exclude(purpose="sensitive_data").delete()
    import_back(alice, content, language)
    assert consent_state() == before
    assert set(can_message([wang.pk, li.pk, zhao.pk, qian.pk], "sms")) == {wang.pk, li.pk}
    assert set(can_message([wang.pk, li.pk, zhao.pk, qian.pk], "wecom")) == {wang.pk}


def test_store_manager_export_has_own_store_consent_and_phones_masked(bob, consenting):
    wang, li, zhao, qian = consenting
    export = exports.export_members(actor=bob, params={})
    assert export.masked and "consent:marketing:sms" in export.columns
    rows = table(b"".join(export.chunks))
    assert {r["id"] for r in rows} == {str(wang.pk), str(li.pk), str(zhao.pk)}
    assert all("****" in r["phone"] for r in rows)
    assert {r["consent:marketing:email"] for r in rows} == {""}  # qian's answer is another store's


def test_consent_columns_cost_one_subquery_not_a_query_per_member(alice, consenting, store_a):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            rows = table(export_bytes(alice, "en", columns=["id", *exports.CONSENT_COLUMNS]))
        return len(captured), len(rows)

    few, rows_few = queries()
    for i in range(30):
        extra = Member.objects.create(name=f"m{i}", phone=f"+86137000{i:05d}", home_store=store_a)
        Consent.objects.create(member=extra, purpose="marketing", channel="sms", granted=bool(i % 2))
    many, rows_many = queries()
    assert rows_many == rows_few + 30
    assert many == few <= 4  # definitions, count, audit entry, one cursor


# --- identities with a namespace --------------------------------------------------------------------


@pytest.fixture
def identified(store_a, store_b):
    wang = member("王芳", "+8613800138000", store_a)
    li = member("李雷", "+8613800138001", store_a)
    qian = member("钱七", "+8613900139000", store_b)
    ids = [
        (wang, "tmall", "shop1", "t/1/x"),  # an id with '/' in it
        (wang, "tmall", "shop2", "buyer-9"),
        (wang, "miniprogram", "wx5f1c", "oM1"),
        (wang, "wecom", "", "wm/1"),
        (li, "tmall", "shop1", "t-2"),
        (li, "wechat_openid", "wxAPPid", "oA/B+c"),
        (qian, "tmall", "shopB", "t-b"),
    ]
    for who, channel, namespace, external_id in ids:
        Identity.objects.create(member=who, channel=channel, namespace=namespace, external_id=external_id)
    return wang, li, qian


IDENTITY_KEYS = ["id", "name", "phone", "wecom", "tmall", "miniprogram", "wechat_openid", "douyin"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_identities_get_a_column_per_namespace_and_import_back(alice, identified, language):
    wang, li, qian = identified
    content = export_bytes(alice, language, columns=IDENTITY_KEYS)
    rows = table(content)
    expected = ["id", "name", "phone", "wecom", "tmall:shop1", "tmall:shop2", "tmall:shopB", "miniprogram:wx5f1c",
                "wechat_openid:wxAPPid", "douyin"]  # a channel nobody has an id on keeps its bare column
    assert list(rows[0]) == [columns.header_for(k, language) for k in expected]
    if language == "zh-hans":
        assert "天猫:shop1" in rows[0] and "小程序:wx5f1c" in rows[0] and "公众号openid:wxAPPid" in rows[0]
    first = dict(zip(expected, rows[0].values(), strict=True))
    assert (first["tmall:shop1"], first["tmall:shop2"], first["wecom"]) == ("t/1/x", "buyer-9", "wm/1")

    before = set(Identity.objects.values_list("member_id", "channel", "namespace", "external_id"))
    Identity.objects.exclude(channel="phone").delete()
    job = import_back(alice, content, language)
    assert job.updated_count == 3 and job.created_count == 0
    assert set(Identity.objects.values_list("member_id", "channel", "namespace", "external_id")) == before
    assert import_back(alice, content, language).identities_added == 0  # and again: nothing new


def test_store_export_names_only_its_own_members_namespaces(bob, identified):
    rows = table(b"".join(exports.export_members(actor=bob, params={}, columns=["id", "tmall"]).chunks))
    assert list(rows[0]) == ["id", "tmall:shop1", "tmall:shop2"]  # not store B's shopB


def test_one_namespace_can_be_asked_for_and_bad_ones_are_refused(alice, identified):
    wang, li, _qian = identified
    export = exports.export_members(actor=alice, params={}, columns=["id", "tmall:shop1"])
    assert [(r["id"], r["tmall:shop1"]) for r in table(b"".join(export.chunks))] == [
        (str(wang.pk), "t/1/x"), (str(li.pk), "t-2"), (str(_qian.pk), "")]
    for bad in ("tmall:", "wechat_unionid:x", "fax:1", "tmall:" + "x" * 65):
        with pytest.raises(exports.ExportRefused) as refused:
            exports.export_members(actor=alice, params={}, columns=["id", bad])
        assert bad in str(refused.value.details["columns"])


def test_api_export_of_a_namespaced_channel(key_client, identified, store_a):
    response = key_client(scopes=["exports:read"], store=store_a).get(
        "/api/v1/exports/members/?format=csv&columns=name,tmall")
    assert response.status_code == 200
    rows = table(b"".join(response.streaming_content))
    assert list(rows[0]) == ["name", "tmall:shop1", "tmall:shop2"]
    assert {r["name"]: r["tmall:shop1"] for r in rows} == {"王芳": "t/1/x", "李雷": "t-2"}
