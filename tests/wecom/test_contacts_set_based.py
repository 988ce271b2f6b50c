"""The contact write path's set-based creation of brand-new members (members.services.bulk_new)
against its per-item path: a page mixing new contacts with existing identities, a unionid match, a
contact another staff member already has, a duplicate unionid, an erased and a bad contact gives
the same members, identities, timeline, relations, contacts, follows, tags, segment bitmaps and
counts either way; and a duplicate racing between two lanes becomes one member."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from members.models import Channel, Identity, Member, MemberEvent, MemberTag, StaffRelation, Tag, TagGroup
from members.segments import index
from members.services import upsert
from wecom.models import CorpTagGroupLink, CorpTagLink, ErasedContact, WecomContact, WecomFollow, WecomStaff
from wecom.services import contacts

CREATED = 1700000000


def contact(ext, *, name="", gender=0, unionid=None, kind=1):
    found = {"external_userid": ext, "name": name, "gender": gender, "type": kind}
    if unionid:
        found["unionid"] = unionid
    return found


def follow(userid, n, *, tags=(), remark="", state=""):
    return {"userid": userid, "remark": remark, "description": "", "state": state, "add_way": 1 + n % 3,
            "createtime": CREATED + n, "tag_id": list(tags)}


def carol_page():
    """New contacts of every shape, and the contacts that need the per-item rules."""
    rows = [
        (contact("wm-new1", name="王小明", gender=1, unionid="o-new1"), follow("carol", 1, remark="老客")),
        (contact("wm-new2"), follow("carol", 2)),
        (contact("wm-new3", name="李四", gender=2, unionid="o-new3"), follow("carol", 3, tags=["et-vip", "et-x"])),
        (contact("wm-new4", name="Ann", kind=2), follow("carol", 4, state="store:SH01")),
        (contact("wm-mp", name="小程序用户", unionid="o-mp"), follow("carol", 5)),  # unionid held: the member
        (contact("wm-both", name="共同客户", unionid="o-both"), follow("carol", 6)),  # dave's contact already
        (contact("wm-imported", name="导入"), follow("carol", 7)),  # identity held, no contact yet
        (contact("wm-dup1", unionid="o-dup"), follow("carol", 8)),  # two contacts, one unionid: both refused
        (contact("wm-dup2", unionid="o-dup"), follow("carol", 9)),
        (contact("wm-erased", name="已删除"), follow("carol", 10)),  # erased on request: never again
        (contact(""), follow("carol", 11)),  # no external_userid
    ]
    return rows


def _setup(alice, carol, dave):
    """The same world before each run (made the same way whatever path the page goes through)."""
    carol_staff = WecomStaff.objects.create(userid="carol", user=carol, store=carol.store)
    dave_staff = WecomStaff.objects.create(userid="dave", user=dave, store=dave.store)
    group = TagGroup.objects.create(name="企微标签")
    vip = Tag.objects.create(group=group, name="VIP")
    link = CorpTagGroupLink.objects.create(group=group, wecom_group_id="eg-1", name_in_wecom="企微标签")
    CorpTagLink.objects.create(tag=vip, wecom_tag_id="et-vip", group_link=link, name_in_wecom="VIP")
    upsert.upsert_member(identities=[{"channel": Channel.WECHAT_UNIONID, "external_id": "o-mp"}],
                         profile={"name": "小程序", "gender": "f"}, actor=alice)
    upsert.upsert_member(identities=[{"channel": Channel.WECOM, "external_id": "wm-imported"}],
                         profile={"name": "导入的"}, actor=alice)
    ErasedContact.objects.create(digest=contacts.erased_digest("wm-erased"))
    contacts.apply_page(staff=dave_staff, entries=[(contact("wm-both", name="共同客户", unionid="o-both"),
                                                    follow("dave", 20))], set_based=False)
    return carol_staff


def _member_keys() -> dict[int, tuple]:
    keys: dict[int, list] = {}
    for member_id, channel, external_id in Identity.objects.values_list("member_id", "channel", "external_id"):
        keys.setdefault(member_id, []).append(f"{channel}:{external_id}")
    return {member_id: tuple(sorted(labels)) for member_id, labels in keys.items()}


def snapshot(outcome) -> dict:
    """Every row the page could write, with ids replaced by what they stand for."""
    who = _member_keys()
    relation_of = {r.pk: (who[r.member_id], r.staff.username) for r in StaffRelation.objects.select_related("staff")}

    def event_data(data):
        data = dict(data)
        if "relation" in data:
            data["relation"] = relation_of[data["relation"]]
        return data

    return {
        "outcome": (outcome.added, outcome.updated, outcome.unchanged, outcome.failed, outcome.skipped,
                    outcome.members_created, sorted((f.reason, f.external_userid, f.detail) for f in outcome.failures)),
        "members": sorted(
            (who.get(m.pk, ()), m.name, m.phone, m.gender, m.birthday, m.home_store_id, m.owner_id, m.source,
             m.stage, m.attributes, m.erased_at, m.merged_into_id)
            for m in Member.objects.all()
        ),
        "identities": sorted((i.channel, i.namespace, i.external_id, who[i.member_id]) for i in Identity.objects.all()),
        "events": sorted(
            (who[e.member_id], e.kind, repr(sorted(event_data(e.data).items())), e.actor_id, e.actor_label)
            for e in MemberEvent.objects.all()
        ),
        "relations": sorted(
            (who[r.member_id], r.staff.username, r.store_id, r.add_way, r.state, r.remark, r.description,
             r.is_owner, r.added_at, r.staff_deleted_at, r.member_deleted_at)
            for r in StaffRelation.objects.select_related("staff")
        ),
        "contacts": sorted(
            (c.external_userid, who.get(c.member_id), c.unionid, c.kind, c.digest, c.deleted_at)
            for c in WecomContact.objects.all()
        ),
        "follows": sorted(
            (f.contact.external_userid, f.staff.userid, relation_of.get(f.relation_id), f.add_way, f.state,
             f.added_at, f.digest, f.deleted_at, f.deleted_by)
            for f in WecomFollow.objects.select_related("contact", "staff")
        ),
        "tags": sorted((who[t.member_id], t.tag.name, t.source) for t in MemberTag.objects.select_related("tag")),
        "bitmaps_exact": index.differences() == [],
    }


def _run(alice, carol, dave, *, set_based: bool) -> tuple[dict, dict]:
    """The page written once and once more, in a transaction rolled back afterwards."""
    with transaction.atomic():
        staff = _setup(alice, carol, dave)
        first = snapshot(contacts.apply_page(staff=staff, entries=carol_page(), set_based=set_based))
        again = contacts.apply_page(staff=staff, entries=carol_page(), set_based=set_based)
        second = snapshot(again)
        transaction.set_rollback(True)
    return first, second


@pytest.mark.django_db
def test_set_based_and_per_item_paths_write_the_same_page_the_same_way(alice, carol, dave):
    reference, reference_again = _run(alice, carol, dave, set_based=False)
    fast, fast_again = _run(alice, carol, dave, set_based=True)
    for part in reference:
        assert fast[part] == reference[part], part
        assert fast_again[part] == reference_again[part], part
    # what the reference says, so the comparison is about something
    added, updated, unchanged, failed, skipped, created, failures = reference["outcome"]
    assert (added, updated, failed, skipped, created) == (7, 0, 3, 1, 4)
    assert sorted(reason for reason, _e, _d in failures) == ["bad_contact", "member_refused", "member_refused"]
    assert fast_again["outcome"][:6] == (0, 0, 7, 3, 1, 0)  # the same page again: nothing to write
    assert fast["bitmaps_exact"]
    keys = {m[0]: m for m in fast["members"]}
    assert keys[("wechat_unionid:o-mp", "wecom:wm-mp")][1] == "小程序用户"  # the unionid's member, updated
    assert keys[("wechat_unionid:o-mp", "wecom:wm-mp")][5] is None  # not moved to carol's store
    assert keys[("wechat_unionid:o-new1", "wecom:wm-new1")][1:6] == ("王小明", "", "m", None, carol.store_id)
    assert ("wechat_unionid:o-new3", "wecom:wm-new3") in {t[0] for t in fast["tags"] if t[1] == "VIP"}
    assert not any("wm-erased" in str(m[0]) or "o-dup" in str(m[0]) for m in fast["members"])


@pytest.mark.django_db
def test_a_closed_store_sends_new_contacts_to_the_per_item_path_which_refuses_them(alice, carol, dave):
    results = []
    for set_based in (False, True):
        with transaction.atomic():
            staff = _setup(alice, carol, dave)
            carol.store.is_active = False
            carol.store.save(update_fields=["is_active"])
            staff.store.refresh_from_db()
            results.append(snapshot(contacts.apply_page(staff=staff, entries=carol_page(), set_based=set_based)))
            transaction.set_rollback(True)
    reference, fast = results
    assert fast == reference
    assert ("member_refused", "wm-new1", "home_store") in reference["outcome"][6]


# --- two lanes, one new contact -------------------------------------------------------------------


def _waiting_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_contact_two_lanes_create_at_once_becomes_one_member(alice, carol, dave):
    carol_staff = WecomStaff.objects.create(userid="carol", user=carol, store=carol.store)
    dave_staff = WecomStaff.objects.create(userid="dave", user=dave, store=dave.store)
    shared = contact("wm-race", name="抢先", gender=2, unionid="o-race")
    pages = {
        "carol": (carol_staff, [(shared, follow("carol", 1)), (contact("wm-c1", name="C"), follow("carol", 2))]),
        "dave": (dave_staff, [(contact("wm-d1", name="D"), follow("dave", 3)), (shared, follow("dave", 4))]),
    }
    outcomes, errors = {}, []
    written, release = threading.Event(), threading.Event()

    def lane(name):
        staff, entries = pages[name]
        try:
            with transaction.atomic():
                outcomes[name] = contacts.apply_page(staff=WecomStaff.objects.select_related("store").get(pk=staff.pk),
                                                     entries=entries)
                if name == "carol":
                    written.set()
                    release.wait(30)  # dave's lane meets carol's uncommitted identities meanwhile
        except Exception as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            written.set()
            connections.close_all()

    first = threading.Thread(target=lane, args=("carol",))
    first.start()
    assert written.wait(30)
    second = threading.Thread(target=lane, args=("dave",))
    second.start()
    deadline = time.monotonic() + 10
    while _waiting_backends() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert second.is_alive(), "dave's lane should wait for carol's transaction"
    release.set()
    first.join(30)
    second.join(30)
    assert errors == []
    member = Member.objects.get(identities__channel=Channel.WECOM, identities__external_id="wm-race")
    assert member.home_store_id == carol.store_id  # carol's lane created it; dave's only follows it
    assert set(Identity.objects.filter(member=member).values_list("external_id", flat=True)) == {"wm-race", "o-race"}
    assert Member.objects.count() == 3
    assert MemberEvent.objects.filter(member=member, kind=MemberEvent.Kind.CREATED).count() == 1
    assert set(StaffRelation.objects.filter(member=member).values_list("staff__username", flat=True)) == {
        "carol", "dave"}
    assert WecomFollow.objects.filter(contact__external_userid="wm-race").count() == 2
    assert (outcomes["carol"].members_created, outcomes["dave"].members_created) == (2, 1)
    assert outcomes["dave"].failed == 0 and outcomes["dave"].added == 2
    assert index.differences() == []


@pytest.mark.parametrize("name, remark, tags, added", [
    ("王女士", "VIP 客户", ["et1", "et2"], True),
    ('quote " and \\ back\nslash', "", [], False),
    ("\u0001控制", "emoji 🎉", ["标签"], True),
])
def test_the_written_digests_are_the_json_digests(name, remark, tags, added):
    """The digests a sync compares are written as text directly; they must equal the JSON ones stored by
    earlier syncs, or every contact would look changed once."""
    import datetime as dt

    from wecom.services import contacts

    at = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC) if added else None
    assert contacts.contact_digest(name, "female", "union-1", 1) == contacts._digest([name, "female", "union-1", 1])
    assert contacts.follow_digest(remark, "desc", "store_qr_1", 2, at, tags) == \
        contacts._digest([remark, "desc", "store_qr_1", 2, at, tags])
