"""Exporting a saved segment (dashboard and API: scoped, masked, audited, formula-safe), consent
columns in imports (validated, written through the consent model with history, honoured by
can_message), and a Chinese export that imports back as it is."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from django.utils import translation

from members.io import columns, exports
from members.io.models import ImportStatus
from members.models import (
    AttributeDefinition,
    Consent,
    ConsentRecord,
    Identity,
    Member,
    MemberEvent,
    MemberTag,
    Tag,
    TagGroup,
)
from members.segments import services as segment_services
from members.services.consent import can_message, set_consent
from scrm.models import AuditLog
from tests.members.io.conftest import errors_by_row, run_import

pytestmark = pytest.mark.django_db


def read_csv(chunks) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))


@pytest.fixture
def dark(members):
    (a0, a1, a2), (b0, b1) = members
    tag = Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    for m in (a0, a1, b0):
        MemberTag.objects.create(member=m, tag=tag)
    Member.objects.filter(pk=a1.pk).update(name="=HYPERLINK(1)")
    return tag


# --- segment export ---------------------------------------------------------------------------------


def test_operator_exports_a_segment_in_full_and_audited(alice, dark, members):
    segment = segment_services.create_segment(actor=alice, name="黑巧", definition={"tags": {"any": [dark.pk]}})
    export = exports.export_members(actor=alice, params={}, columns=["id", "name", "phone"], segment_id=segment.pk)
    rows = read_csv(export.chunks)
    assert rows[0] == ["id", "name", "phone"]
    assert {r[0] for r in rows[1:]} == {str(m.pk) for m in (members[0][0], members[0][1], members[1][0])}
    assert "'=HYPERLINK(1)" in {r[1] for r in rows[1:]}  # formula-safe
    assert all("****" not in r[2] for r in rows[1:])
    assert export.filename.startswith(f"segment-{segment.pk}-")
    entry = AuditLog.objects.get(action="members.export")
    assert entry.detail["segment"] == segment.pk and entry.detail["rows"] == 3


def test_store_manager_exports_their_part_of_a_brand_wide_segment_masked(client, alice, bob, dark, members):
    segment = segment_services.create_segment(actor=alice, name="黑巧", definition={"tags": {"any": [dark.pk]}})
    client.force_login(bob)
    page = client.get(reverse("member-export"), {"segment": segment.pk})
    assert page.status_code == 200 and page.context["count"] == 2
    assert "黑巧" in page.content.decode()
    response = client.post(f"{reverse('member-export')}?segment={segment.pk}",
                           {"format": "csv", "columns": ["name", "phone"], "segment": segment.pk})
    assert response.status_code == 200, response.content[:300]
    rows = read_csv(response.streaming_content)
    assert len(rows) == 3 and all("****" in r[1] for r in rows[1:])
    assert AuditLog.objects.get(action="members.export").detail["masked"] is True


def test_a_segment_out_of_reach_is_not_exported(client, bob, dave, dark):
    theirs = segment_services.create_segment(actor=dave, name="B", definition={"all": []})
    client.force_login(bob)
    assert client.get(reverse("member-export"), {"segment": theirs.pk}).status_code == 404
    with pytest.raises(exports.ExportRefused) as refused:
        exports.export_members(actor=bob, params={}, segment_id=theirs.pk)
    assert "segment" in refused.value.details
    assert not AuditLog.objects.filter(action="members.export").exists()


def test_api_exports_a_segment_with_both_scopes(key_client, alice, dark, members, store_b):
    segment = segment_services.create_segment(actor=alice, name="黑巧", definition={"tags": {"any": [dark.pk]}})
    url = f"/api/v1/segments/{segment.pk}/export/?format=csv&columns=name,phone"
    assert key_client(scopes=["segments:read"]).get(url).status_code == 403
    response = key_client(scopes=["segments:read", "exports:read"]).get(url)
    assert response.status_code == 200 and response["X-Export-Rows"] == "3"
    store_key = key_client(scopes=["segments:read", "exports:read"], store=store_b)
    rows = read_csv(store_key.get(url).streaming_content)
    assert [r[0] for r in rows[1:]] == ["李0"] and "****" in rows[1][1]
    same = key_client(scopes=["segments:read", "exports:read"]).get(
        f"/api/v1/exports/members/?segment={segment.pk}&columns=name&q=李")
    assert read_csv(same.streaming_content)[1:] == [["李0"]]
    assert AuditLog.objects.filter(action="members.export").count() == 3


def test_segments_page_offers_export_and_shows_brand_wide_read_only(client, alice, bob, dark):
    brand = segment_services.create_segment(actor=alice, name="全品牌", definition={"tags": {"any": [dark.pk]}})
    segment_services.recount_segment(segment=brand, actor=alice)
    own = segment_services.create_segment(actor=bob, name="本店", definition={"all": []})
    client.force_login(bob)
    page = client.get(reverse("segment-list")).content.decode()
    assert "全品牌" in page and "本店" in page
    assert f'data-testid="export-{brand.pk}"' in page
    assert page.count('data-testid="read-only"') == 1
    assert reverse("segment-action", args=[brand.pk, "delete"]) not in page
    assert reverse("segment-action", args=[own.pk, "delete"]) in page
    assert client.get(reverse("segment-count", args=[brand.pk])).content.decode() == "2"
    client.post(reverse("segment-action", args=[brand.pk, "delete"]))
    assert brand.__class__.objects.filter(pk=brand.pk).exists()


# --- consent columns --------------------------------------------------------------------------------


def test_consent_columns_write_consent_with_history(alice, bob, store_a):
    existing = Member.objects.create(name="老会员", phone="+8613800138001", home_store=store_a)
    Identity.objects.create(member=existing, channel="phone", namespace="", external_id=existing.phone)
    set_consent(member=existing, purpose="marketing", channel="sms", granted=True, actor=alice)
    set_consent(member=existing, purpose="marketing", channel="wecom", granted=True, actor=alice)
    content = ("姓名,手机号,门店,营销同意,营销同意:短信,consent:marketing:email\n"
               "新会员,13800138002,SH01,同意,,granted\n"
               "老会员,13800138001,SH01,撤回,,\n"
               "坏值,13800138003,SH01,也许,yes,\n")
    job = run_import(bob, content)
    assert job.status == ImportStatus.DONE, job.message
    assert list(errors_by_row(job)) == [4], job.errors
    [(column, message)] = errors_by_row(job)[4]
    assert column == "营销同意" and "也许" in message
    new = Member.objects.get(phone="+8613800138002")
    assert set(Consent.objects.filter(member=new).values_list("channel", "granted")) == {("all", True),
                                                                                        ("email", True)}
    # withdrawing on every channel withdraws the channel grants too, as set_consent does
    assert set(Consent.objects.filter(member=existing).values_list("channel", "granted")) == {
        ("all", False), ("sms", False), ("wecom", False)}
    records = ConsentRecord.objects.filter(member=existing, source="import")
    assert {(r.channel, r.granted, r.recorded_by_id) for r in records} == {
        ("all", False, bob.pk), ("sms", False, bob.pk), ("wecom", False, bob.pk)}
    assert MemberEvent.objects.filter(member=existing, kind="consent", data__source="import").count() == 1
    assert set(can_message([new.pk, existing.pk], "sms")) == {new.pk}
    assert set(can_message([new.pk, existing.pk], "email")) == {new.pk}
    assert not Member.objects.filter(phone="+8613800138003").exists()
    again = run_import(bob, content)  # the same answers again change nothing, so no new history
    assert again.status == ImportStatus.DONE
    assert ConsentRecord.objects.filter(source="import").count() == 5


def test_consent_headers_that_cannot_be_imported(alice):
    for header, fragment in (("consent:sensitive_data", "profile"), ("营销同意:传真", "channel"),
                             ("consent:profiling:sms", "all channels"), ("consent:shoe", "purpose")):
        with pytest.raises(columns.HeaderError) as caught:
            columns.parse_header(["手机号", header])
        assert fragment in caught.value.errors[0][2], caught.value.errors


def test_strict_import_with_a_bad_consent_cell_writes_nothing(alice, store_a):
    job = run_import(alice, "姓名,手机号,营销同意\n甲,13800138005,同意\n乙,13800138006,maybe\n", mode="strict")
    assert job.status == ImportStatus.FAILED
    assert not Consent.objects.exists() and not ConsentRecord.objects.exists()


# --- round trip -------------------------------------------------------------------------------------


def test_a_chinese_export_imports_back_as_it_is(alice, store_a, store_b, carol, dave):
    group = TagGroup.objects.create(name="口味偏好")
    dark, milk = Tag.objects.create(group=group, name="黑巧"), Tag.objects.create(group=group, name="牛奶巧")
    AttributeDefinition.objects.create(code="kids", label="孩子数", type="number")
    people = [
        Member.objects.create(name="王芳", phone="+8613800138000", gender="f", birthday="1990-05-01",
                              home_store=store_a, owner=carol, source="store_qr", stage="act",
                              attributes={"kids": 2}),
        Member.objects.create(name="李 雷", phone="+8613900139000", gender="m", home_store=store_b, owner=dave,
                              source="order", stage="aware"),
    ]
    MemberTag.objects.create(member=people[0], tag=dark)
    MemberTag.objects.create(member=people[0], tag=milk)
    Identity.objects.create(member=people[1], channel="wecom", namespace="", external_id="wm-1")
    for person in people:  # as the upsert service keeps it
        Identity.objects.create(member=person, channel="phone", namespace="", external_id=person.phone)
    keys = ["id", "name", "phone", "gender", "birthday", "home_store", "owner", "source", "stage", "created_at",
            "tags", "wecom", "attr:kids"]
    with translation.override("zh-hans"):
        export = exports.export_members(actor=alice, params={}, columns=keys)
        content = b"".join(export.chunks)
    header = content.decode("utf-8-sig").splitlines()[0].split(",")
    assert header == [columns.header_for(k, "zh-hans") for k in keys]
    assert header[:3] == ["会员ID", "姓名", "手机号"] and "属性:kids" in header
    fields = ["name", "phone", "gender", "birthday", "home_store_id", "owner_id", "source", "stage", "attributes"]
    before = list(Member.objects.order_by("id").values(*fields))
    before_tags = set(MemberTag.objects.values_list("member_id", "tag_id"))
    before_ids = set(Identity.objects.values_list("member_id", "channel", "external_id"))
    with translation.override("zh-hans"):
        job = run_import(alice, content, mode="strict", name="导出.csv")
    assert job.status == ImportStatus.DONE and job.error_count == 0, (job.message, job.errors)
    assert job.created_count == 0 and job.updated_count == 2
    assert list(Member.objects.order_by("id").values(*fields)) == before
    assert set(MemberTag.objects.values_list("member_id", "tag_id")) == before_tags
    assert set(Identity.objects.values_list("member_id", "channel", "external_id")) == before_ids


def test_every_export_header_is_an_import_header(alice):
    AttributeDefinition.objects.create(code="kids", label="孩子数", type="number")
    for language in ("en", "zh-hans"):
        keys = [key for key, _label in exports.available_columns(alice)]
        layout = columns.parse_header([columns.header_for(k, language) for k in keys])
        assert [c.key for c in layout.columns] == keys
