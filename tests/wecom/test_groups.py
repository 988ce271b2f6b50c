"""Customer groups against the local WeCom server: a groups sync run reads every owner's groups page by
page (groupchat/list + groupchat/get) into groups and members linked to known customers; a rerun
writes nothing; a rate limit pauses the run, which resumes at the cursor it saved; groups WeCom no
longer lists are dismissed; change_external_chat callbacks are applied by reading the group back,
whether repeated or out of order; store roles see only their store's groups (API and screens)."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from wecom.client import get_client
from wecom.models import (
    CallbackEvent,
    CursorStatus,
    CustomerGroup,
    CustomerGroupMember,
    EventStatus,
    GroupMemberKind,
    RunStatus,
    SyncCursor,
    SyncKind,
    SyncRun,
    WecomContact,
)
from wecom.services import events, sync
from wecom.services.staff import refresh_staff

pytestmark = pytest.mark.django_db(transaction=True)

STAFF = ["carol", "dave", "erin"]  # erin has no Siyu account: her groups are synced all the same


@pytest.fixture
def group_corp(make_corp, carol, dave, alice, settings):
    settings.WECOM_GROUP_PAGE = 2  # three groups per owner: two pages each
    return make_corp(staff=STAFF, contacts_per_staff=30, groups_per_staff=3)


def run_to_end(run_id, *, limit=200) -> str:
    for _ in range(limit):
        outcome = sync.run_step(run_id=run_id)
        if outcome != "more":
            return outcome
    raise AssertionError("the run did not end")


def full_run(kind, actor) -> SyncRun:
    result = sync.start_run(kind=kind, actor=actor)
    assert result.created
    assert run_to_end(result.run.pk) == "done"
    return SyncRun.objects.get(pk=result.run.pk)


def wecom_groups() -> dict[str, dict]:
    chats = get_client().post("externalcontact/groupchat/list", {"limit": 1000})["group_chat_list"]
    return {
        c["chat_id"]: get_client().post("externalcontact/groupchat/get", {"chat_id": c["chat_id"]})["group_chat"]
        for c in chats
    }


def test_groups_sync_reads_every_owner_page_by_page_and_links_known_customers(group_corp, alice, carol, dave):
    full_run(SyncKind.CONTACTS, alice)  # carol's and dave's customers become members
    run = full_run(SyncKind.GROUPS, alice)
    truth = wecom_groups()
    assert len(truth) == 9
    assert run.added == 9 and run.updated == run.failed == 0 and run.staff_total == run.staff_done == 3
    assert set(SyncCursor.objects.filter(run=run).values_list("pages", flat=True)) == {2}  # 2 + 1 groups
    assert set(CustomerGroup.objects.values_list("chat_id", flat=True)) == set(truth)
    for chat_id, chat in truth.items():
        group = CustomerGroup.objects.select_related("owner").get(chat_id=chat_id)
        assert group.owner.userid == chat["owner"] and group.name == chat["name"] and group.notice == chat["notice"]
        assert 20 <= group.member_count == len(chat["member_list"]) <= 300
        assert group.member_count == group.members.filter(left_at__isnull=True).count()
        assert group.created_at_wecom.timestamp() == chat["create_time"]
    carols = CustomerGroup.objects.filter(owner__userid="carol")
    assert set(carols.values_list("store_id", flat=True)) == {carol.store_id}
    assert set(CustomerGroup.objects.filter(owner__userid="erin").values_list("store_id", flat=True)) == {None}
    customers = CustomerGroupMember.objects.filter(group__in=carols, kind=GroupMemberKind.CUSTOMER)
    known = customers.filter(userid__in=WecomContact.objects.values("external_userid"))
    assert known.exists() and not known.filter(member__isnull=True).exists()
    strangers = customers.exclude(userid__in=WecomContact.objects.values("external_userid"))
    assert strangers.exists() and not strangers.filter(member__isnull=False).exists()
    owner_rows = CustomerGroupMember.objects.filter(group__in=carols, kind=GroupMemberKind.STAFF, userid="carol")
    assert owner_rows.count() == 3 and all(row.staff_id for row in owner_rows)

    rows = CustomerGroupMember.objects.count()
    again = full_run(SyncKind.GROUPS, alice)
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 9)
    assert CustomerGroupMember.objects.count() == rows


def test_a_rate_limit_pauses_the_groups_run_and_it_resumes_at_the_saved_cursor(group_corp, alice, settings):
    settings.WECOM_CALLS_PER_MINUTE = 2  # the budget per API: a page of two groups read, then a pause
    limiter = get_client().limiter
    for key in limiter.redis.scan_iter(f"{limiter.key}:*"):
        limiter.redis.delete(key)
    seconds, _micro = limiter.redis.time()
    if seconds % 60 > 50:
        time.sleep(60 - seconds % 60 + 0.2)
    run = sync.start_run(kind=SyncKind.GROUPS, actor=alice).run
    assert sync.run_step(run_id=run.pk) == "paused"
    run.refresh_from_db()
    assert run.status == RunStatus.PAUSED and run.pause_reason == "rate_limited" and run.resume_at > timezone.now()
    first = SyncCursor.objects.get(run=run, staff__userid="carol")
    assert first.cursor and first.pages == 1 and CustomerGroup.objects.count() == 2  # one page written, no more
    settings.WECOM_CALLS_PER_MINUTE = 9000
    assert sync.sweep(now=run.resume_at + timedelta(seconds=1))["resumed"] == [run.pk]
    assert run_to_end(run.pk) == "done"
    run.refresh_from_db()
    assert run.added == CustomerGroup.objects.count() == 9 and run.updated == 0 and run.attempts == 0
    assert set(SyncCursor.objects.filter(run=run).values_list("status", flat=True)) == {CursorStatus.DONE}


def test_a_group_no_longer_listed_is_dismissed_by_the_next_complete_run(group_corp, alice):
    full_run(SyncKind.GROUPS, alice)
    gone = CustomerGroup.objects.filter(owner__userid="dave").order_by("chat_id").first()
    group_corp.corp.chat_event(change_type="dismiss", chat_id=gone.chat_id)
    run = full_run(SyncKind.GROUPS, alice)
    assert run.removed == 1 and run.unchanged == 8
    gone.refresh_from_db()
    assert gone.dismissed_at is not None and gone.members.count() > 0  # kept, with its members


def test_memberships_are_on_the_member_timeline_in_the_export_and_go_with_an_erasure(group_corp, alice, bob):
    from members import timeline
    from members.services import privacy

    full_run(SyncKind.CONTACTS, alice)
    full_run(SyncKind.GROUPS, alice)
    row = CustomerGroupMember.objects.filter(member__isnull=False, group__owner__userid="carol").first()
    member = row.member
    export = privacy.export_member_data(member=member, actor=alice)
    assert row.group.chat_id in {g["group__chat_id"] for g in export["wecom"]["groups"]}
    texts = [e.text for e in timeline.page(member, alice, kinds=["wecom"], limit=100).entries]
    assert f"Joined the WeCom customer group {row.group.name}" in texts
    dave_group = CustomerGroupMember.objects.filter(member__isnull=False, group__owner__userid="dave").first()
    texts = [e.text for e in timeline.page(dave_group.member, bob, kinds=["wecom"], limit=100).entries]
    assert not any("customer group" in t for t in texts)  # another store's group: not bob's to read
    privacy.erase_member(member=member, actor=alice, reason="request")
    assert not CustomerGroupMember.objects.filter(userid=row.userid).exists()
    run = full_run(SyncKind.GROUPS, alice)
    assert run.failed == 0 and not CustomerGroupMember.objects.filter(userid=row.userid).exists()


# --- callbacks ------------------------------------------------------------------------------------


def stored(fields: dict, *, create_time: int | None = None, salt: str = ""):
    fields = {k: str(v) for k, v in fields.items()}
    if create_time is not None:
        fields["CreateTime"] = str(create_time)
    digest = hashlib.sha256((repr(sorted(fields.items())) + salt).encode()).hexdigest()
    return events.store_event(fields, raw_digest=digest)


def process(event) -> str:
    events.process_event(event.pk)
    event.refresh_from_db()
    return event.status


def test_chat_callbacks_are_applied_idempotently_and_out_of_order(group_corp, alice):
    refresh_staff(client=get_client())  # the staff list a contact sync reads first
    corp = group_corp.corp
    t0 = int(time.time())
    created = corp.chat_event(change_type="create", owner="carol", name="南京西路骑行群")
    chat_id = created["chat_id"]
    create = stored(group_corp.events[-1], create_time=t0)
    assert process(create) == EventStatus.DONE
    group = CustomerGroup.objects.get(chat_id=chat_id)
    assert group.name == "南京西路骑行群" and group.member_count == 1 and group.owner.userid == "carol"

    joined = corp.chat_event(chat_id=chat_id, update_detail="add_member")
    add_fields = dict(group_corp.events[-1])
    corp.chat_event(chat_id=chat_id, update_detail="add_member")
    second_add = dict(group_corp.events[-1])
    # The first join's callback arrives late, after WeCom's retry of it and after a second join.
    assert process(stored(second_add, create_time=t0 + 20)) == EventStatus.DONE
    group.refresh_from_db()
    assert group.customer_count == 2
    assert stored(second_add, create_time=t0 + 20).created is False  # WeCom's retry: the same row
    again = stored(second_add, create_time=t0 + 20, salt="a re-sent copy")
    assert process(again) == EventStatus.IGNORED  # already at this member version: nothing read
    late = stored(add_fields, create_time=t0 + 10)
    assert process(late) == EventStatus.IGNORED  # older than the state applied
    assert CustomerGroupMember.objects.filter(group=group, userid=joined["externaluserid"], left_at=None).exists()

    corp.chat_event(chat_id=chat_id, update_detail="del_member", external_userid=joined["externaluserid"])
    assert process(stored(group_corp.events[-1], create_time=int(time.time()) + 30)) == EventStatus.DONE
    left = CustomerGroupMember.objects.get(group=group, userid=joined["externaluserid"])
    assert left.left_at is not None
    group.refresh_from_db()
    assert group.customer_count == 1

    corp.chat_event(chat_id=chat_id, update_detail="change_name", name="骑行俱乐部")
    rename = stored(group_corp.events[-1], create_time=int(time.time()) + 40)
    corp.chat_event(chat_id=chat_id, change_type="dismiss")
    dismiss = stored(group_corp.events[-1], create_time=int(time.time()) + 50)
    assert process(dismiss) == EventStatus.DONE
    assert process(rename) == EventStatus.IGNORED  # arrives after the dismiss it preceded
    group.refresh_from_db()
    assert group.dismissed_at is not None and group.name == "南京西路骑行群"
    assert process(stored(group_corp.events[-1], create_time=int(time.time()) + 50, salt="retry")) in (
        EventStatus.DONE, EventStatus.IGNORED)
    assert CustomerGroup.objects.filter(chat_id=chat_id).count() == 1


def test_a_callback_for_a_group_never_synced_reads_it_in(group_corp):
    corp = group_corp.corp
    chat_id = corp.group_chat_list(owner_filter={"userid_list": ["dave"]}, limit=10)["group_chat_list"][0]["chat_id"]
    corp.chat_event(chat_id=chat_id, update_detail="change_notice", name="本周六骑行改到下午")
    assert process(stored(group_corp.events[-1])) == EventStatus.DONE
    group = CustomerGroup.objects.get(chat_id=chat_id)
    assert group.notice == "本周六骑行改到下午" and group.member_count >= 20


def test_a_simulated_day_of_group_changes_leaves_every_group_as_wecom_has_it(group_corp, alice):
    full_run(SyncKind.GROUPS, alice)
    seen = len(group_corp.events)
    answer = group_corp.corp.advance(changes=0, group_changes=12, seed=5)
    chat_events = [e for e in list(group_corp.events)[seen:] if e["Event"] == "change_external_chat"]
    assert answer["groups"] == len(chat_events) >= 8
    for n, fields in enumerate(chat_events):
        stored(fields, create_time=int(time.time()) + 1 + n)
    processed = events.process_pending()
    assert processed["retry"] == processed["failed"] == 0, list(CallbackEvent.objects.values_list("error", flat=True))
    for chat_id, chat in wecom_groups().items():
        group = CustomerGroup.objects.get(chat_id=chat_id)
        present = set(group.members.filter(left_at__isnull=True).values_list("userid", flat=True))
        assert present == {m["userid"] for m in chat["member_list"]}, chat_id
        assert group.notice == chat["notice"] and group.member_count == len(chat["member_list"])


# --- scoping --------------------------------------------------------------------------------------


def test_store_roles_see_only_their_store_groups(group_corp, alice, bob, client):
    full_run(SyncKind.GROUPS, alice)
    own = CustomerGroup.objects.filter(store=bob.store).order_by("pk")
    other = CustomerGroup.objects.exclude(store=bob.store).exclude(store=None).first()
    assert own.count() == 3 and other is not None

    client.force_login(bob)
    listed = client.get("/api/v1/wecom/groups/").json()
    assert sorted(g["id"] for g in listed["results"]) == list(own.values_list("pk", flat=True))
    assert client.get(f"/api/v1/wecom/groups/{other.pk}/").status_code == 404
    detail = client.get(f"/api/v1/wecom/groups/{own[0].pk}/").json()
    assert detail["chat_id"] == own[0].chat_id and detail["owner"] == "carol"
    members = client.get(f"/api/v1/wecom/groups/{own[0].pk}/members/", {"page_size": 100}).json()
    assert len(members["results"]) == min(own[0].members.count(), 100)
    assert client.get(f"/api/v1/wecom/groups/{other.pk}/members/").status_code == 404
    page = client.get(reverse("wecom-group-list"))
    assert page.status_code == 200 and own[0].name in page.content.decode()
    assert other.chat_id not in page.content.decode()
    assert client.get(reverse("wecom-group-detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("wecom-group-detail", args=[own[0].pk])).status_code == 200

    client.force_login(alice)
    assert len(client.get("/api/v1/wecom/groups/").json()["results"]) == 9
    filtered = client.get("/api/v1/wecom/groups/", {"owner": "dave"}).json()
    assert {g["owner"] for g in filtered["results"]} == {"dave"}
    assert len(client.get("/api/v1/wecom/groups/", {"store": bob.store.code}).json()["results"]) == 3
    assert client.get("/api/v1/wecom/groups/", {"bogus": 1}).status_code == 400
