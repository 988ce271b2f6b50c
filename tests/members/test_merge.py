"""Merging duplicates keeps everything, resolves conflicts by documented rules and is recorded;
candidates are found by phone and unionid; the unionid rule runs as a real Celery task."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from members.models import (
    Consent,
    ConsentRecord,
    Identity,
    Member,
    MemberEvent,
    MemberMerge,
    MemberTag,
    ServiceNote,
    StaffRelation,
    Tag,
    TagGroup,
)
from members.services import consent, merge, notes, relations
from members.tasks import merge_duplicates_by_rule
from scrm.errors import InvalidInput, NotInScope
from scrm.models import User


@pytest.fixture
def pair(store_a, carol):
    survivor = Member.objects.create(name="王芳", phone="+8613800138000", home_store=store_a,
                                     attributes={"dialect": "粤语"})
    duplicate = Member.objects.create(name="王芳(小程序)", phone="+8613800138000", home_store=store_a,
                                      gender="f", attributes={"dialect": "普通话", "vip": True})
    Identity.objects.create(member=survivor, channel="wecom", external_id="wm1")
    Identity.objects.create(member=duplicate, channel="miniprogram", namespace="wxapp", external_id="oM1")
    return survivor, duplicate


@pytest.fixture
def vocab(db):
    multi = TagGroup.objects.create(name="口味")
    single = TagGroup.objects.create(name="价格", multiple=False)
    return {
        "dark": Tag.objects.create(group=multi, name="黑巧"),
        "white": Tag.objects.create(group=multi, name="白巧"),
        "high": Tag.objects.create(group=single, name="高"),
        "low": Tag.objects.create(group=single, name="低"),
    }


def test_merge_moves_everything_and_records_it(alice, carol, pair, vocab):
    survivor, duplicate = pair
    early = timezone.now() - timedelta(days=30)
    MemberTag.objects.create(member=survivor, tag=vocab["dark"], added_by=alice)
    MemberTag.objects.create(member=duplicate, tag=vocab["dark"], added_by=carol, added_at=early, source="import")
    MemberTag.objects.create(member=duplicate, tag=vocab["white"])
    MemberTag.objects.create(member=survivor, tag=vocab["high"])
    MemberTag.objects.create(member=duplicate, tag=vocab["low"])
    note = notes.add_note(member=duplicate, body="喜欢新品", actor=carol)

    record = merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice, reason="same_phone")

    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert duplicate.merged_into == survivor and not duplicate.is_live
    assert {str(i) for i in survivor.identities.all()} == {"wecom:wm1", "miniprogram:wxapp/oM1"}
    rows = {t.tag_id: t for t in MemberTag.objects.filter(member=survivor)}
    assert set(rows) == {vocab["dark"].pk, vocab["white"].pk, vocab["high"].pk}  # survivor's single choice wins
    assert rows[vocab["dark"].pk].added_at == early and rows[vocab["dark"].pk].added_by == carol
    assert rows[vocab["dark"].pk].source == "import"
    assert not MemberTag.objects.filter(member=duplicate).exists()
    assert ServiceNote.objects.get(pk=note.pk).member == survivor
    assert survivor.gender == "f"  # gap filled
    assert survivor.attributes == {"dialect": "粤语", "vip": True}  # survivor's values win, gaps filled
    assert record.snapshot["name"] == "王芳(小程序)" and record.merged_by == alice
    event = MemberEvent.objects.get(member=survivor, kind="merged")
    assert event.data["duplicate"] == duplicate.pk and event.data["moved"]["identities"] == 1
    assert list(Member.live.filter(phone="+8613800138000")) == [survivor]


def test_merge_resolves_owners_survivor_wins(alice, carol, store_a, pair):
    survivor, duplicate = pair
    erin = User.objects.create(username="erin", role="store_staff", store=store_a)
    relations.add_relation(member=survivor, staff=erin, actor=alice, is_owner=True)
    relations.add_relation(member=duplicate, staff=carol, actor=alice, is_owner=True, remark="dup's")
    relations.add_relation(member=duplicate, staff=erin, actor=alice, remark="dup's erin")
    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    survivor.refresh_from_db()
    assert survivor.owner == erin
    rels = {r.staff.username: r for r in StaffRelation.objects.filter(member=survivor).select_related("staff")}
    assert set(rels) == {"erin", "carol"}
    assert rels["erin"].is_owner and not rels["carol"].is_owner and rels["erin"].remark == ""


def test_merge_adopts_the_duplicates_owner_when_survivor_has_none(alice, carol, pair):
    survivor, duplicate = pair
    relations.add_relation(member=duplicate, staff=carol, actor=alice, is_owner=True)
    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    survivor.refresh_from_db()
    assert survivor.owner == carol
    assert StaffRelation.objects.get(member=survivor).is_owner


def test_merge_consents_the_stricter_wins(alice, pair):
    survivor, duplicate = pair
    consent.set_consent(member=survivor, purpose="marketing", channel="sms", granted=True, actor=alice)
    consent.set_consent(member=survivor, purpose="marketing", channel="wecom", granted=True, actor=alice)
    consent.set_consent(member=duplicate, purpose="marketing", channel="wecom", granted=False, actor=alice)
    consent.set_consent(member=duplicate, purpose="sensitive_data", granted=True, actor=alice)
    # a later grant on the survivor does not undo the duplicate's withdrawal
    Consent.objects.filter(member=survivor, channel="wecom").update(updated_at=timezone.now() + timedelta(days=1))
    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    current = {(c.purpose, c.channel): c.granted for c in Consent.objects.filter(member=survivor)}
    assert current == {("marketing", "sms"): True, ("marketing", "wecom"): False, ("sensitive_data", "all"): True}
    assert ConsentRecord.objects.filter(member=survivor, source="merge", channel="wecom", granted=False).exists()
    assert ConsentRecord.objects.filter(member=survivor).count() == 5
    assert set(consent.can_message([survivor.pk], "wecom")) == set()


def test_merge_withdrawal_on_all_covers_the_other_profiles_channel_grants(alice, pair):
    survivor, duplicate = pair
    consent.set_consent(member=survivor, purpose="marketing", channel="sms", granted=True, actor=alice)
    consent.set_consent(member=duplicate, purpose="marketing", channel="all", granted=False, actor=alice)
    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    assert set(consent.can_message([survivor.pk], "sms")) == set()


def test_merge_refusals(alice, carol, dave, pair, members):
    survivor, duplicate = pair
    with pytest.raises(InvalidInput) as caught:
        merge.merge_members(survivor=survivor, duplicate=survivor, actor=alice)
    assert "duplicate" in caught.value.details
    with pytest.raises(NotInScope):
        merge.merge_members(survivor=survivor, duplicate=members[1][0], actor=carol)
    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    with pytest.raises(InvalidInput) as caught:
        merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    assert "duplicate" in caught.value.details
    assert MemberMerge.objects.count() == 1


def test_chains_flatten(alice, pair, store_a):
    survivor, duplicate = pair
    third = Member.objects.create(name="第三", home_store=store_a)
    merge.merge_members(survivor=duplicate, duplicate=third, actor=alice)
    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    assert Member.objects.get(pk=third.pk).merged_into_id == survivor.pk


def test_candidates_by_phone_and_unionid_scoped(alice, carol, dave, pair, store_b):
    survivor, duplicate = pair
    other_a = Member.objects.create(name="甲", home_store=survivor.home_store)
    other_b = Member.objects.create(name="乙", home_store=store_b)
    Identity.objects.create(member=other_a, channel="wechat_unionid", namespace="", external_id="oU9")
    Identity.objects.create(member=other_b, channel="wechat_unionid", namespace="open1", external_id="oU9")
    found = {(c.rule, c.survivor_id, c.duplicate_ids) for c in merge.duplicate_candidates(actor=alice)}
    assert found == {("same_phone", survivor.pk, (duplicate.pk,)), ("same_unionid", other_a.pk, (other_b.pk,))}
    for_carol = {(c.rule, c.survivor_id) for c in merge.duplicate_candidates(actor=carol)}
    assert for_carol == {("same_phone", survivor.pk)}
    assert merge.duplicate_candidates(actor=dave) == []
    assert "****" in merge.duplicate_candidates(actor=alice, rule="same_phone")[0].key


def test_merge_moves_rows_of_other_tables_pointing_at_members(alice, carol, pair):
    survivor, duplicate = pair
    relations.add_relation(member=survivor, staff=carol, actor=alice, referrer=duplicate)
    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    assert StaffRelation.objects.get(member=survivor).referrer_id == survivor.pk



def test_unionid_rule_merges_through_a_real_worker(celery_worker, store_a, store_b):
    a = Member.objects.create(name="甲", home_store=store_a)
    b = Member.objects.create(name="乙", home_store=store_b, phone="+8613800138000")
    c = Member.objects.create(name="丙", home_store=store_a, phone="+8613800138000")
    Identity.objects.create(member=a, channel="wechat_unionid", external_id="oU1")
    Identity.objects.create(member=b, channel="wechat_unionid", namespace="open", external_id="oU1")
    merge_duplicates_by_rule.delay()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and Member.objects.get(pk=b.pk).merged_into_id is None:
        time.sleep(0.1)
    assert Member.objects.get(pk=b.pk).merged_into_id == a.pk
    assert MemberMerge.objects.get(merged=b).reason == "same_unionid"
    assert MemberEvent.objects.get(member=a, kind="merged").actor_label == "rule:same_unionid"
    assert Member.objects.get(pk=c.pk).merged_into_id is None  # same phone is left to an operator
    assert merge_duplicates_by_rule.apply().get() == 0  # idempotent


def test_survivors_owner_without_a_relation_still_wins(alice, carol, bob, pair):
    survivor, duplicate = pair
    Member.objects.filter(pk=survivor.pk).update(owner=bob)  # legacy row: owner set, no relation yet
    relations.add_relation(member=duplicate, staff=carol, actor=alice, is_owner=True)
    merge.merge_members(survivor=Member.objects.get(pk=survivor.pk), duplicate=duplicate, actor=alice)
    assert Member.objects.get(pk=survivor.pk).owner == bob
    assert not StaffRelation.objects.get(member=survivor, staff=carol).is_owner
