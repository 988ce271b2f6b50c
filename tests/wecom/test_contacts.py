"""The contact write path through callbacks (add, edit, delete events processed by the events
engine, against the local WeCom server), the member centre's WeCom export, timeline and panel, and
the bulk relation services the sync writes with."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import AddWay, Member, MemberEvent, StaffRelation
from members.services import relations
from scrm.errors import InvalidInput
from wecom.models import EventStatus, SyncKind, WecomContact, WecomFollow
from wecom.services import events, sync

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def corp_synced(make_corp, alice, carol, dave):
    server = make_corp(staff=["carol", "dave"], contacts_per_staff=20)
    run = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    while sync.run_step(run_id=run.pk) == "more":
        pass
    received: list[dict] = []
    server.corp.listeners.append(received.append)
    server.received = received
    return server


def deliver(payload: dict) -> str:
    """Store and process one callback as the callback endpoint and the worker would."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    row = events.store_event(payload, raw_digest=digest)
    events.process_event(row.pk)
    row.refresh_from_db()
    return row.status


def control(server, name: str, body: dict) -> dict:
    answer = httpx.post(f"{server.url}/_fake/{name}", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_add_edit_and_delete_callbacks_write_through_the_sync_path(corp_synced, carol):
    added = control(corp_synced, "add_contact", {"userid": "carol", "state": "store:SH01"})
    assert deliver(corp_synced.received[-1]) == EventStatus.DONE
    follow = WecomFollow.objects.select_related("relation", "contact__member").get(
        staff__userid="carol", contact__external_userid=added["external_userid"]
    )
    assert follow.state == "store:SH01" and follow.relation.add_way == AddWay.QR
    assert follow.contact.member.home_store_id == carol.store_id
    assert deliver(corp_synced.received[-1]) == EventStatus.DONE  # the same event again: no harm
    assert WecomFollow.objects.filter(contact__external_userid=added["external_userid"]).count() == 1

    control(corp_synced, "edit", {"userid": "carol", "external_userid": added["external_userid"], "remark": "老顾客"})
    assert deliver(corp_synced.received[-1]) == EventStatus.DONE
    assert StaffRelation.objects.get(pk=follow.relation_id).remark == "老顾客"

    control(corp_synced, "delete", {"userid": "carol", "external_userid": added["external_userid"], "by": "customer"})
    assert deliver(corp_synced.received[-1]) == EventStatus.DONE
    follow.refresh_from_db()
    assert follow.deleted_at is not None and follow.deleted_by == "customer"
    relation = StaffRelation.objects.get(pk=follow.relation_id)
    assert relation.member_deleted_at is not None and relation.staff_deleted_at is None


def test_a_delete_older_than_the_last_add_is_ignored(corp_synced):
    follow = WecomFollow.objects.filter(staff__userid="dave").select_related("contact").first()
    old = int(follow.added_at.timestamp()) - 3600
    status = deliver({
        "Event": "change_external_contact", "ChangeType": "del_external_contact", "CreateTime": str(old),
        "UserID": "dave", "ExternalUserID": follow.contact.external_userid,
    })
    assert status == EventStatus.IGNORED
    follow.refresh_from_db()
    assert follow.deleted_at is None


def test_an_unknown_change_type_is_stored_and_ignored(corp_synced):
    status = deliver({"Event": "change_external_contact", "ChangeType": "something_new", "CreateTime": "1"})
    assert status in (EventStatus.IGNORED, EventStatus.DONE)


def test_export_timeline_and_panel_show_the_follows(corp_synced, client, alice, dave):
    from members import timeline
    from members.services import privacy

    contact = WecomContact.objects.filter(follows__staff__userid="dave").select_related("member").first()
    member = contact.member
    export = privacy.export_member_data(member=member, actor=alice)
    assert export["wecom"]["contacts"][0]["external_userid"] == contact.external_userid
    assert {f["staff__userid"] for f in export["wecom"]["follows"]} >= {"dave"}
    page = timeline.page(member, alice, kinds=["wecom"])
    assert page.entries and "Added on WeCom by staff member" in page.entries[0].text
    client.force_login(alice)
    html = client.get(reverse("member-detail", args=[member.pk])).content.decode()
    assert 'data-testid="wecom-panel"' in html


def test_bulk_relations_insert_update_re_add_and_mark_deleted(members, carol, alice):
    member = members[0][1]
    now = timezone.now()
    row = {"member_id": member.pk, "staff_id": carol.pk, "store_id": carol.store_id, "add_way": AddWay.QR,
           "state": "s1", "remark": "r1", "description": "", "added_at": now}
    first = relations.bulk_upsert_relations([row], actor=alice)
    relation = StaffRelation.objects.get(pk=first[(member.pk, carol.pk)])
    assert (relation.add_way, relation.state, relation.remark) == (AddWay.QR, "s1", "r1")
    Member.objects.filter(pk=member.pk).update(owner=carol)
    StaffRelation.objects.filter(pk=relation.pk).update(is_owner=True)
    assert relations.bulk_mark_deleted([(relation.pk, "member", now)], actor=alice) == 1
    assert relations.bulk_mark_deleted([(relation.pk, "member", now)], actor=alice) == 0  # already marked
    relation.refresh_from_db()
    assert relation.member_deleted_at is not None and not relation.is_owner
    assert Member.objects.get(pk=member.pk).owner_id is None
    again = relations.bulk_upsert_relations([row | {"remark": "r2"}], actor=alice)
    assert again == first
    relation.refresh_from_db()
    assert relation.is_active and relation.remark == "r2"
    actions = list(MemberEvent.objects.filter(member=member, kind="relation").order_by("id")
                   .values_list("data__action", flat=True))
    assert actions == ["added", "deleted_by_member", "updated"]
    with pytest.raises(InvalidInput):
        relations.bulk_mark_deleted([(relation.pk, "nobody", now)], actor=alice)
