"""Erasure is complete: after a member is erased, their phone (in every spelling), name, channel id
and sensitive attribute value are nowhere in the database, nowhere in the upload folder and nowhere
in this run's Redis keys, while orders keep their amounts and the erasure is audited by ids only."""

from __future__ import annotations

import datetime
import io
import os
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from loyalty.orders.models import Order
from loyalty.orders.services import ingest
from loyalty.points.models import PointsPolicy, Redemption, Reward
from loyalty.points.services import adjustments, earning
from loyalty.referrals import services as referrals
from loyalty.referrals.models import Commission, CommissionRule, Referral, ReferralCode
from loyalty.tiers import services as tiers
from loyalty.tiers.models import TierChange
from members.io import exports
from members.io import services as imports
from members.io.models import ImportJob
from members.models import AttributeDefinition, Member, StaffRelation, Tag, TagGroup
from members.privacy_registry import member_cache_key
from members.services import attributes, consent, notes, privacy, relations, upsert
from scrm.models import AuditLog

NAME = "欧阳小芳"
PHONE = "+8613912345678"
ALLERGY = "夏威夷果与腰果"
WECOM = "wm-oyxf-01"
# Every spelling of the phone a person, a till or a spreadsheet writes, the name, the id, the value.
NEEDLES = [PHONE, "13912345678", "139 1234 5678", "139-1234-5678", "008613912345678", NAME, ALLERGY, WECOM]
OTHER_NAME, OTHER_PHONE = "李思源", "13700137000"

LEVELS = [
    {"rank": 1, "name": "可可小白", "threshold": "0"},
    {"rank": 2, "name": "可可达人", "threshold": "1000"},
]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _upload(name: str, content: bytes, kind="text/csv"):
    return SimpleUploadedFile(name, content, content_type=kind)


def _xlsx(rows) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _import(actor, name, content, kind="text/csv"):
    job = imports.create_import(actor=actor, upload=_upload(name, content, kind), mode="valid_rows")
    return imports.run_import(job_id=job.pk)


@pytest.fixture
def person(alice, carol, store_a, key_client, django_capture_on_commit_callbacks):
    """A member with something in every app: profile, sensitive attribute, identities, tags, notes,
    orders bought with her phone, points, a redemption, tier history, a referral and a commission,
    import files and reports that hold her rows, audit entries, admin history and a cache entry."""
    AttributeDefinition.objects.create(code="allergy", label="过敏", type="text", sensitive=True)
    tag = Tag.objects.create(group=TagGroup.objects.create(name="口味"), name="黑巧")
    member = Member.objects.get(
        pk=upsert.upsert_member(
            identities=[{"channel": "wecom", "external_id": WECOM}],
            profile={"name": NAME, "phone": "139 1234 5678", "birthday": "1991-03-04", "owner": "carol"},
            tags=[tag.pk],
            actor=alice,
        ).member_id
    )
    consent.set_consent(member=member, purpose="sensitive_data", granted=True, evidence=f"{NAME} 签字", actor=alice)
    attributes.set_attributes(member=member, values={"allergy": ALLERGY}, actor=alice)
    notes.add_note(member=member, body=f"{NAME}对{ALLERGY}过敏, 电话 13912345678", actor=carol)
    relations.update_relation(relation=StaffRelation.objects.get(member=member), remark=f"{NAME}姐", actor=carol)
    referrer = Member.objects.create(name=OTHER_NAME, phone="+86" + OTHER_PHONE, home_store=store_a)
    referrals.generate_codes(member_ids=[member.pk, referrer.pk])
    CommissionRule.objects.create(name="any", rate=Decimal("5"))
    PointsPolicy.objects.create(pk=1, points_per_unit=Decimal("1"), expiry_mode="period_end", expiry_years=1)
    with django_capture_on_commit_callbacks(execute=False):
        tiers.save_ladder(actor=alice, data={"name": "会员", "window_days": 365, "levels": LEVELS})
    placed = (timezone.now() - datetime.timedelta(days=2)).isoformat()
    order, _ = ingest.record_order(
        data={
            "channel": "pos",
            "external_id": "POS-0001",
            "store": store_a.code,
            "phone": "13912345678",
            "total_amount": "1399.00",
            "placed_at": placed,
            "referral_code": ReferralCode.objects.get(member=referrer).code,
            "lines": [{"name": "黑巧礼盒", "category": "gift", "amount": "1399.00"}],
        },
        actor=alice,
    )
    assert order.member_id == member.pk and order.buyer_external_id == PHONE
    earning.sync_orders(order_ids=[order.pk], member_ids=[member.pk])
    referrals.sync_commissions(order_ids=[order.pk])
    adjustments.adjust_points(member=member, points=500, reason=f"{NAME}生日, 13912345678", actor=alice)
    reward = Reward.objects.create(name="黑巧礼盒", kind="gift", points_cost=100)
    # redeemed through the API with an Idempotency-Key: the answer kept for a retry quotes the note
    redeemed = key_client(scopes=["points:write"]).post(
        "/api/v1/redemptions/",
        {"member": member.pk, "reward": reward.pk, "note": f"{NAME}到店自取 139-1234-5678"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="redeem-1",
    )
    assert redeemed.status_code == 201, redeemed.content
    tiers.set_floor(
        member=member,
        level_id=tiers.get_ladder().levels.get(rank=2).pk,
        reason=f"{NAME} 老客户 13912345678",
        actor=alice,
    )
    # Imports whose files (one named after her), reports and stored errors hold her rows.
    too_long = ALLERGY + "。" * 300  # refused: the error quotes the start of the value
    content = (
        "name,phone,wecom,attr:allergy\n"
        f"{NAME},139-1234-5678,{WECOM},{too_long}\n"
        f"{OTHER_NAME},{OTHER_PHONE},,\n"
        f"{NAME},0086 139 1234 5678,,not a phone 1\n"
    ).encode()
    csv_job = _import(alice, f"{NAME}-会员.csv", content)
    xlsx_job = _import(
        alice,
        "members.xlsx",
        _xlsx([["姓名", "手机号", "属性:allergy"], [NAME, "13912345678", too_long], [OTHER_NAME, OTHER_PHONE, ""]]),
        kind="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    for job in (csv_job, xlsx_job):
        assert job.report and any(ALLERGY in str(e["value"]) for e in job.errors), job.errors
    # Audit entries: an export searched by her phone, and one an older version wrote with the words.
    export = exports.export_members(actor=alice, params={"q": "13912345678"}, columns=["name", "phone"])
    assert export.rows == 1
    AuditLog.objects.create(
        user=alice,
        action="member.view",
        object_type="members.member",
        object_id=str(member.pk),
        detail={"phone": "139 1234 5678", "note": f"asked by {NAME}"},
    )  # as older code wrote
    privacy.export_member_data(member=member, actor=alice)
    LogEntry.objects.create(
        user=alice,
        content_type=ContentType.objects.get_for_model(Member),
        object_id=str(member.pk),
        object_repr=str(member),
        action_flag=CHANGE,
        change_message=f'[{{"changed": {{"fields": ["phone"]}}, "was": "{PHONE}"}}]',
    )
    cache.set(member_cache_key(member.pk, "card"), {"name": NAME, "phone": PHONE}, 600)
    return member


# --- looking everywhere --------------------------------------------------------------------------


def _found_in_database(needles) -> list[tuple[str, str]]:
    """(table, needle) for every table of the test database that holds a needle in any column."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        )
        tables = [row[0] for row in cursor.fetchall()]
        found = []
        for table in tables:
            for needle in needles:
                cursor.execute(f'SELECT 1 FROM "{table}" x WHERE strpos(x::text, %s) > 0 LIMIT 1', [needle])
                if cursor.fetchone():
                    found.append((table, needle))
    return found


def _file_texts(path: Path) -> list[str]:
    data = path.read_bytes()
    if zipfile.is_zipfile(path):  # xlsx: its parts are compressed
        with zipfile.ZipFile(path) as archive:
            return [archive.read(n).decode("utf-8", "replace") for n in archive.namelist()]
    return [data.decode("utf-8", "replace"), data.decode("gb18030", "replace")]


def _found_in_files(needles) -> list[tuple[str, str]]:
    found = []
    for directory, _dirs, names in os.walk(settings.MEDIA_ROOT):
        for name in names:
            path = Path(directory) / name
            for needle in needles:
                if needle in str(path.relative_to(settings.MEDIA_ROOT)) or any(needle in t for t in _file_texts(path)):
                    found.append((name, needle))
    return found


def _redis_values(client, key) -> bytes:
    kind = client.type(key).decode()
    if kind == "string":
        return client.get(key) or b""
    if kind == "list":
        return b"".join(client.lrange(key, 0, -1))
    if kind == "hash":
        return b"".join(k + v for k, v in client.hgetall(key).items())
    if kind in ("set", "zset"):
        return b"".join(client.smembers(key) if kind == "set" else client.zrange(key, 0, -1))
    return b""


def _found_in_redis(needles) -> list[tuple[str, str]]:
    client = cache._cache.get_client(None, write=False)
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    found = []
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        blob = key + _redis_values(client, key)
        for needle in needles:
            if needle.encode() in blob:
                found.append((key.decode(), needle))
    return found


# --- the tests -----------------------------------------------------------------------------------


def test_the_set_up_holds_the_member_everywhere(person, alice):
    """The checks below can fail: before erasure, every place they read holds her."""
    tables = {table for table, _ in _found_in_database(NEEDLES)}
    assert {"members_member", "orders_order", "member_io_importjob", "scrm_auditlog", "django_admin_log"} <= tables
    assert {"points_redemption", "tiers_tierchange", "scrm_idempotencykey"} <= tables
    assert {needle for _, needle in _found_in_files(NEEDLES)} >= {NAME, ALLERGY}
    assert _found_in_redis([PHONE, NAME])


def test_erasure_leaves_the_member_nowhere(person, alice, key_client, django_capture_on_commit_callbacks):
    order = Order.objects.get(member=person)
    client = key_client(scopes=["privacy:write", "orders:read"])
    with django_capture_on_commit_callbacks(execute=True):  # the old files go once the erasure commits
        response = client.post(
            f"/api/v1/members/{person.pk}/erase/", {"reason": f"{NAME} asked, ticket 7"}, format="json"
        )
    assert response.status_code == 204, response.content

    assert _found_in_database(NEEDLES) == []
    assert _found_in_files(NEEDLES) == []
    assert _found_in_redis(NEEDLES) == []
    # Orders keep what accounting needs, lose the buyer.
    order.refresh_from_db()
    assert (order.total_amount, order.member_id, order.buyer_external_id) == (Decimal("1399.00"), person.pk, "")
    listed = client.get(f"/api/v1/orders/?member={person.pk}").json()["results"]
    assert [o["total_amount"] for o in listed] == ["1399.00"] and listed[0]["buyer"] is None
    # Other rows of the files stay; the points, the redemption, the tier history and the commission too.
    csv_job = ImportJob.objects.get(format="csv")
    kept = csv_job.file.open("rb").read().decode("utf-8-sig")
    assert OTHER_NAME in kept and OTHER_PHONE in kept and kept.startswith("name,phone,wecom,attr:allergy")
    assert "erased" in csv_job.file.name and NAME not in csv_job.original_name
    assert Redemption.objects.filter(member=person).count() == 1 and TierChange.objects.filter(member=person).exists()
    assert Commission.objects.filter(referred_member=person).count() == 1
    assert Referral.objects.filter(member=person).exists() and not ReferralCode.objects.filter(member=person).exists()
    # Audited by ids and counts; the reason keeps its words but not her name.
    entry = AuditLog.objects.get(action="member.erase")
    assert entry.detail["members"] == [person.pk] and entry.detail["reason"] == "[erased] asked, ticket 7"
    assert entry.detail["removed"]["orders"]["buyers"] == 1 and entry.detail["removed"]["imports"]["jobs"] == 2


def test_erasure_is_idempotent_and_safe_to_retry(person, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        privacy.erase_member(member=person, actor=alice)
    file_before = ImportJob.objects.get(format="csv").file.open("rb").read()
    again = privacy.erase_member(member=Member.objects.get(pk=person.pk), actor=alice)
    assert again.erased_at is not None
    assert AuditLog.objects.filter(action="member.erase").count() == 1
    assert ImportJob.objects.get(format="csv").file.open("rb").read() == file_before


def test_a_failing_step_leaves_everything_as_it_was(person, alice, monkeypatch, django_capture_on_commit_callbacks):
    """One transaction per member: a step that fails rolls back every database part, so a retry
    starts from the same place."""
    from members import privacy_registry

    def broken(subject):
        raise RuntimeError("disk full")

    steps = {**privacy_registry.erasure_steps(), "zz_broken": broken}
    monkeypatch.setattr(privacy_registry, "_erasure_steps", steps)
    with pytest.raises(RuntimeError):
        privacy.erase_member(member=person, actor=alice)
    person.refresh_from_db()
    assert person.erased_at is None and person.phone == PHONE
    assert Order.objects.get(member=person).buyer_external_id == PHONE
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        privacy.erase_member(member=person, actor=alice)
    assert _found_in_database(NEEDLES) == []
    # the files the failed attempt wrote are no one's: they hold no personal data, retention sweeps them
    assert _found_in_files([PHONE, "13912345678", NAME, ALLERGY]) == []


def test_export_audit_keeps_ids_not_the_words_searched(alice, person):
    entry = AuditLog.objects.filter(action="members.export", detail__has_key="member_ids").get()
    assert entry.detail["filters"] == {"q": "[redacted]"} and entry.detail["member_ids"] == [person.pk]
