"""Staff relations (several staff per member, one owner, churn recorded) and service notes."""

from __future__ import annotations

import pytest

from members.models import MemberEvent, ServiceNote, StaffRelation
from members.services import notes, relations
from scrm.errors import Forbidden, InvalidInput
from scrm.models import User


@pytest.fixture
def erin(store_a):
    return User.objects.create(username="erin", role="store_staff", store=store_a)


def test_add_relation_records_how_and_when(carol, members):
    member = members[0][0]
    relation = relations.add_relation(member=member, staff=carol, actor=carol, add_way="qr", state="SH01-QR-spring",
                                      remark="王姐 70%黑巧")
    assert (relation.add_way, relation.state, relation.remark, relation.store_id) == (
        "qr", "SH01-QR-spring", "王姐 70%黑巧", carol.store_id)
    event = MemberEvent.objects.get(member=member, kind="relation")
    assert event.data["action"] == "added" and event.actor == carol


def test_several_staff_one_owner_kept_in_sync(bob, carol, erin, members):
    member = members[0][0]
    relations.add_relation(member=member, staff=erin, actor=bob)
    relations.add_relation(member=member, staff=carol, actor=bob, is_owner=True)
    member.refresh_from_db()
    assert member.owner == carol
    relations.set_owner(member=member, staff=erin, actor=bob)
    member.refresh_from_db()
    assert member.owner == erin
    owners = StaffRelation.objects.filter(member=member, is_owner=True)
    assert [r.staff for r in owners] == [erin]
    assert StaffRelation.objects.filter(member=member).count() == 2


def test_owner_must_work_in_the_members_store(alice, dave, members):
    with pytest.raises(InvalidInput) as caught:
        relations.set_owner(member=members[0][0], staff=dave, actor=alice)
    assert "staff" in caught.value.details


def test_store_staff_cannot_relate_another_stores_staff(carol, dave, members):
    with pytest.raises(InvalidInput):
        relations.add_relation(member=members[0][0], staff=dave, actor=carol)


def test_deletion_by_either_side_is_churn_and_ends_ownership(bob, carol, members):
    member = members[0][0]
    relation = relations.add_relation(member=member, staff=carol, actor=bob, is_owner=True)
    relations.mark_deleted(relation=relation, by="member", actor=bob)
    relation.refresh_from_db()
    member.refresh_from_db()
    assert relation.member_deleted_at is not None and not relation.is_active and not relation.is_owner
    assert member.owner is None
    assert MemberEvent.objects.filter(member=member, kind="relation", data__action="deleted_by_member").exists()
    again = relations.add_relation(member=member, staff=carol, actor=bob, add_way="search")
    assert again.pk == relation.pk and again.is_active and again.add_way == "search"


def test_update_remark_and_bad_values(carol, members):
    relation = relations.add_relation(member=members[0][0], staff=carol, actor=carol)
    relations.update_relation(relation=relation, actor=carol, remark="新备注")
    assert StaffRelation.objects.get(pk=relation.pk).remark == "新备注"
    with pytest.raises(InvalidInput) as caught:
        relations.update_relation(relation=relation, actor=carol, remark="x" * 101)
    assert "remark" in caught.value.details
    with pytest.raises(InvalidInput):
        relations.mark_deleted(relation=relation, by="nobody", actor=carol)
    with pytest.raises(InvalidInput):
        relations.add_relation(member=members[0][0], staff=carol, actor=carol, add_way="telepathy")


def test_notes_by_staff_and_keys(carol, make_key, store_a, members):
    from scrm.api.auth import ApiPrincipal
    from scrm.models import ApiKey

    member = members[0][0]
    note = notes.add_note(member=member, body="  对坚果过敏  ", kind="note", actor=carol)
    assert (note.body, note.author, note.store_id) == ("对坚果过敏", carol, store_a.pk)
    make_key(scopes=["members:write"], name="mini")
    by_key = notes.add_note(member=member, body="小程序留言", actor=ApiPrincipal(ApiKey.objects.get(name="mini")))
    assert by_key.author is None and by_key.author_label.startswith("API key mini")
    notes.update_note(note=by_key, pinned=True, actor=carol)
    assert list(ServiceNote.objects.filter(member=member)) == [by_key, note]  # pinned first


def test_note_errors_and_authorship(carol, bob, members):
    member = members[0][0]
    with pytest.raises(InvalidInput) as caught:
        notes.add_note(member=member, body=" ", kind="gossip", actor=carol)
    assert set(caught.value.details) == {"body", "kind"}
    note = notes.add_note(member=member, body="x", actor=carol)
    with pytest.raises(Forbidden):
        notes.update_note(note=note, body="改写", actor=bob)
    assert notes.update_note(note=note, body="改写", actor=carol).body == "改写"
