"""Data-subject requests: export everything about one member; erase one member (and the duplicates
merged into it), keeping an anonymous row. Both audited."""

from __future__ import annotations

import json

import pytest

from members.models import (
    AttributeDefinition,
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
from members.services import attributes, consent, merge, notes, privacy, relations, tags, upsert
from scrm.models import AuditLog


@pytest.fixture
def rich_member(alice, carol, store_a):
    AttributeDefinition.objects.create(code="allergy", label="过敏", type="text", sensitive=True)
    tag = Tag.objects.create(group=TagGroup.objects.create(name="口味"), name="黑巧")
    member = Member.objects.get(pk=upsert.upsert_member(
        identities=[{"channel": "wecom", "external_id": "wm1"}],
        profile={"name": "王芳", "phone": "13800138000", "birthday": "1990-01-02", "owner": "carol"},
        tags=[tag.pk], actor=alice,
    ).member_id)
    consent.set_consent(member=member, purpose="sensitive_data", granted=True, evidence="form 7", actor=alice)
    attributes.set_attributes(member=member, values={"allergy": "坚果"}, actor=alice)
    notes.add_note(member=member, body="对坚果过敏", actor=carol)
    relations.update_relation(relation=StaffRelation.objects.get(member=member), remark="王姐", actor=carol)
    return member


def test_export_holds_everything_and_is_audited(alice, rich_member):
    data = privacy.export_member_data(member=rich_member, actor=alice)
    json.dumps(data)
    assert data["member"]["name"] == "王芳" and data["member"]["phone"] == "+8613800138000"
    assert data["member"]["birthday"] == "1990-01-02" and data["member"]["owner"] == "carol"
    assert {i["channel"] for i in data["identities"]} == {"wecom", "phone"}
    assert data["tags"][0]["tag__name"] == "黑巧"
    assert data["attributes"] == {"allergy": "坚果"}
    assert data["notes"][0]["body"] == "对坚果过敏"
    assert data["relations"][0]["remark"] == "王姐"
    assert data["consents"][0]["purpose"] == "sensitive_data"
    assert data["consent_records"][0]["evidence"] == "form 7"
    assert {e["kind"] for e in data["events"]} >= {"created", "consent", "updated"}
    log = AuditLog.objects.get(action="member.export")
    assert log.user == alice and log.object_id == str(rich_member.pk) and log.store_id == rich_member.home_store_id
    assert MemberEvent.objects.filter(member=rich_member, kind="exported").exists()


def test_erase_blanks_and_deletes_but_keeps_an_anonymous_row(alice, carol, rich_member, store_a):
    duplicate = Member.objects.create(name="王芳2", phone="+8613800138000", home_store=store_a)
    Identity.objects.create(member=duplicate, channel="tmall", namespace="shop1", external_id="t1")
    merge.merge_members(survivor=rich_member, duplicate=duplicate, actor=alice)
    merged_snapshot = MemberMerge.objects.get().snapshot
    assert merged_snapshot["name"] == "王芳2"

    erased = privacy.erase_member(member=rich_member, actor=alice, reason="member asked (ticket 42)")

    assert erased.erased_at is not None and erased.name == "" and erased.phone == "" and erased.birthday is None
    assert erased.attributes == {} and erased.home_store == store_a  # counts per store stay right
    assert Member.objects.get(pk=duplicate.pk).name == ""
    for model in (Identity, MemberTag, ServiceNote, Consent, ConsentRecord):
        assert not model.objects.filter(member_id__in=[rich_member.pk, duplicate.pk]).exists(), model
    assert MemberMerge.objects.get().snapshot == {}
    assert StaffRelation.objects.get(member=rich_member).remark == ""
    assert list(MemberEvent.objects.filter(member=rich_member).values_list("kind", flat=True)) == ["erased"]
    assert not Member.live.filter(pk=rich_member.pk).exists()
    log = AuditLog.objects.get(action="member.erase")
    assert set(log.detail["members"]) == {rich_member.pk, duplicate.pk}
    # identities are free again: the person can come back as a new member
    again = upsert.upsert_member(identities=[{"channel": "wecom", "external_id": "wm1"}], actor=alice)
    assert again.created and again.member_id != rich_member.pk
    # erasing twice changes nothing
    assert privacy.erase_member(member=rich_member, actor=alice).erased_at == erased.erased_at
    assert AuditLog.objects.filter(action="member.erase").count() == 1


def test_erased_member_is_not_messaged_or_tagged(alice, rich_member):
    consent.set_consent(member=rich_member, purpose="marketing", granted=True, actor=alice)
    privacy.erase_member(member=rich_member, actor=alice)
    assert list(consent.can_message([rich_member.pk], "wecom")) == []
    tag = Tag.objects.get(name="黑巧")
    with pytest.raises(Exception) as caught:
        tags.tag_members(tag=tag, members=[rich_member.pk], actor=alice)
    assert caught.value.code == "not_found"
