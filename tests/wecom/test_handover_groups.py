"""Handovers hand the leaver's customer groups over too, against the local WeCom server: 100 chats a
call, the owner moved in Siyu's mirror, twice in 90 days shown as a limit, 300 chats a day to one
receiver (the rest the next day), the resigned endpoint for staff who left, re-runs and unknown
outcomes sending no chat twice, a rate limit leaving the rest queued; a handover is finished only
when customers and groups are final; scoping, the page and the API's counts."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from scrm.errors import InvalidInput
from scrm.models import Role, User
from tests.wecom.test_handover import seed
from wecom.client import get_client
from wecom.models import (
    CustomerGroup,
    GroupItemStatus,
    Handover,
    HandoverGroup,
    HandoverKind,
    HandoverStatus,
    StaffStatus,
    WecomStaff,
)
from wecom.services import handover as service
from wecom.services import handover_groups

pytestmark = pytest.mark.django_db

STAFF = ["carol", "erin", "dave", "frank", "gina"]
ON_JOB = "externalcontact/groupchat/onjob_transfer"
RESIGNED = "externalcontact/groupchat/transfer"


@pytest.fixture
def staff(carol, dave, store_a, store_b):
    erin = User.objects.create(username="erin", role=Role.STORE_STAFF, store=store_a)
    frank = User.objects.create(username="frank", role=Role.STORE_STAFF, store=store_a)
    gina = User.objects.create(username="gina", role=Role.STORE_STAFF, store=store_b)
    rows = {}
    for userid, user, store in (("carol", carol, store_a), ("erin", erin, store_a), ("dave", dave, store_b),
                                ("frank", frank, store_a), ("gina", gina, store_b)):
        rows[userid] = WecomStaff.objects.create(userid=userid, name=userid.title(), user=user, store=store)
    return rows


def seed_groups(corp, owner: WecomStaff, count: int) -> list[CustomerGroup]:
    """The owner's groups in the local server, as a groups sync would have mirrored them."""
    s = corp.staff_index[owner.userid]
    return CustomerGroup.objects.bulk_create([
        CustomerGroup(chat_id=corp.chat_id(s, k), name=f"{owner.userid}的群{k}", owner=owner,
                      owner_userid=owner.userid, store=owner.store)
        for k in range(count)
    ])


def start(actor, leaver, receiver, **kwargs) -> Handover:
    kwargs.setdefault("kind", HandoverKind.ON_JOB)
    return service.create_handover(actor=actor, request=service.HandoverRequest(
        from_staff=leaver.pk, to_staff=receiver.pk, **kwargs))


def group_statuses(handover) -> dict[str, int]:
    return {s["status"]: s["count"] for s in service.group_status_counts(handover) if s["count"]}


def corp_for(make_corp, groups: int, **kwargs):
    return make_corp(staff=STAFF, contacts_per_staff=3, shared_ratio=0, transfer_delay=0, transfer_refused=0,
                     transfer_full=0, groups_per_staff=groups, **kwargs)


def test_150_groups_go_in_2_calls_and_their_owner_moves(make_corp, alice, staff):
    server = corp_for(make_corp, 150)
    seed(server.corp, staff["carol"])
    groups = seed_groups(server.corp, staff["carol"], 150)
    dismissed = seed_groups(server.corp, staff["frank"], 1)[0]
    CustomerGroup.objects.filter(pk=dismissed.pk).update(owner=staff["carol"], dismissed_at=timezone.now())
    handover = start(alice, staff["carol"], staff["erin"])
    assert group_statuses(handover) == {"queued": 150}  # the dismissed group is left out

    result = service.send_queued(handover_id=handover.pk)
    assert (result.sent, result.calls, result.groups_sent, result.group_calls) == (3, 1, 150, 2)
    assert server.calls(ON_JOB) == 2 and server.calls(RESIGNED) == 0
    assert group_statuses(handover) == {"done": 150}
    assert all(server.corp.chat_owner_of(g.chat_id) == "erin" for g in groups)
    assert set(CustomerGroup.objects.filter(pk__in=[g.pk for g in groups])
               .values_list("owner__userid", "owner_userid", "store")) == {("erin", "erin", staff["erin"].store_id)}
    # The customers are still waiting for WeCom: not finished until they are final too.
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.RUNNING
    service.poll_results(handover_id=handover.pk)
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.DONE


def test_a_group_handed_over_twice_in_90_days_is_a_limit(make_corp, alice, client, bob, staff):
    server = corp_for(make_corp, 2)
    seed_groups(server.corp, staff["carol"], 2)
    for leaver, receiver in (("carol", "erin"), ("erin", "carol")):
        handover = start(alice, staff[leaver], staff[receiver])
        service.send_queued(handover_id=handover.pk)
        assert group_statuses(handover) == {"done": 2}
    third = start(alice, staff["carol"], staff["erin"])
    service.send_queued(handover_id=third.pk)
    assert group_statuses(third) == {"limit": 2}
    assert set(third.groups.values_list("errcode", flat=True)) == {40128}
    assert set(CustomerGroup.objects.values_list("owner__userid", flat=True)) == {"carol"}  # not moved
    third.refresh_from_db()
    assert third.status == HandoverStatus.DONE
    client.force_login(bob)
    html = client.get(reverse("wecom-handover-detail", args=[third.pk])).content.decode()
    assert html.count('<tr data-status="limit">') == 2
    assert "Limit reached (handed over twice in 90 days)" in html


def test_same_owner_fails_with_its_errcode(make_corp, alice, staff):
    server = corp_for(make_corp, 1)
    group = seed_groups(server.corp, staff["carol"], 1)[0]
    server.corp.chat_owner[group.chat_id] = "erin"  # moved in WeCom, not yet synced
    handover = start(alice, staff["carol"], staff["erin"])
    service.send_queued(handover_id=handover.pk)
    assert group_statuses(handover) == {"failed": 1}
    assert handover.groups.get().errcode == 40130


def test_300_a_day_to_one_receiver_the_rest_the_next_day(make_corp, alice, staff):
    from wecom.tasks import handovers as tasks

    server = corp_for(make_corp, 200)
    seed_groups(server.corp, staff["carol"], 200)
    seed_groups(server.corp, staff["frank"], 150)
    first = start(alice, staff["carol"], staff["erin"])
    second = start(alice, staff["frank"], staff["erin"])
    assert service.send_queued(handover_id=first.pk).groups_sent == 200
    result = service.send_queued(handover_id=second.pk)
    assert (result.groups_sent, result.group_calls, result.retry_after) == (100, 1, None)
    assert group_statuses(second) == {"done": 100, "queued": 50}
    assert handover_groups.sent_today(staff["erin"].pk) == 300
    # Later the same day: nothing more goes, and the handover waits (not finished).
    assert tasks.poll_handovers() == 1
    assert server.calls(ON_JOB) == 3
    second.refresh_from_db()
    assert second.status == HandoverStatus.RUNNING
    assert not second.groups.filter(status=GroupItemStatus.QUEUED, sent_at__isnull=False).exists()

    # The next day (the receiver's last 24 hours are empty again): the periodic task sends the 50.
    HandoverGroup.objects.filter(sent_at__isnull=False).update(sent_at=F("sent_at") - timedelta(hours=25))
    server.corp.travel(25 * 3600)
    assert tasks.poll_handovers() == 1
    assert server.calls(ON_JOB) == 4
    assert group_statuses(second) == {"done": 150}
    second.refresh_from_db()
    assert second.status == HandoverStatus.DONE
    assert tasks.poll_handovers() == 0


def test_a_resigned_owners_groups_use_the_resigned_endpoint(make_corp, alice, staff):
    server = corp_for(make_corp, 3)
    groups = seed_groups(server.corp, staff["carol"], 3)
    WecomStaff.objects.filter(pk=staff["carol"].pk).update(status=StaffStatus.RESIGNED)
    server.corp.resigned.add("carol")
    handover = start(alice, staff["carol"], staff["erin"], kind=HandoverKind.RESIGNED)
    service.send_queued(handover_id=handover.pk)
    assert server.calls(RESIGNED) == 1 and server.calls(ON_JOB) == 0
    assert group_statuses(handover) == {"done": 3}
    assert all(server.corp.chat_owner_of(g.chat_id) == "erin" for g in groups)
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.DONE  # no customers: the groups alone finish it


def test_running_again_sends_no_group_twice(make_corp, alice, staff):
    server = corp_for(make_corp, 120)
    seed_groups(server.corp, staff["carol"], 120)
    handover = start(alice, staff["carol"], staff["erin"])
    assert service.send_queued(handover_id=handover.pk).group_calls == 2
    assert service.send_queued(handover_id=handover.pk).groups_sent == 0
    Handover.objects.filter(pk=handover.pk).update(status=HandoverStatus.RUNNING)  # even if it were reopened
    assert service.send_queued(handover_id=handover.pk).groups_sent == 0
    assert server.calls(ON_JOB) == 2
    assert all(len(t) == 1 for t in server.corp.chat_transfers.values())
    # A second handover of the same leaver has no group left to take.
    with pytest.raises(InvalidInput) as exc:
        start(alice, staff["carol"], staff["frank"])  # the groups are erin's now
    assert exc.value.code == "nothing_to_hand_over"
    assert handover_groups.write_groups(handover) == 0


@pytest.mark.django_db(transaction=True)
def test_workers_at_once_send_no_group_twice_nor_past_the_days_limit(make_corp, alice, staff):
    server = corp_for(make_corp, 200)
    server.set_limits({"per_minute": 10_000, "concurrency": 50, "latency": 0.2})
    seed_groups(server.corp, staff["carol"], 200)
    seed_groups(server.corp, staff["frank"], 200)
    handovers = [start(alice, staff["carol"], staff["erin"]), start(alice, staff["frank"], staff["erin"])]
    results, failures = [], []

    def run(handover_id):
        try:
            results.append(service.send_queued(handover_id=handover_id))
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(h.pk,)) for h in handovers for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert sum(r.groups_sent for r in results) == 300 and server.calls(ON_JOB) == 3
    assert HandoverGroup.objects.filter(status=GroupItemStatus.DONE).count() == 300
    assert HandoverGroup.objects.filter(status=GroupItemStatus.QUEUED, sent_at__isnull=True).count() == 100
    assert all(len(t) == 1 for t in server.corp.chat_transfers.values())


def test_an_unknown_outcome_is_read_back_not_resent(make_corp, alice, staff):
    server = corp_for(make_corp, 150)
    groups = seed_groups(server.corp, staff["carol"], 150)
    handover = Handover.objects.select_related("from_staff", "to_staff").get(
        pk=start(alice, staff["carol"], staff["erin"]).pk)
    # A worker claimed a batch and WeCom moved it, but the answer never came back...
    sent = handover_groups._claim(handover)
    get_client().post(ON_JOB, {"chat_id_list": [c for _id, c in sent], "new_owner": "erin"})
    # ...and another claimed a batch and died before calling.
    lost = handover_groups._claim(handover)
    assert len(sent) == 100 and len(lost) == 50
    assert service.send_queued(handover_id=handover.pk).groups_sent == 0  # in flight: left alone
    HandoverGroup.objects.filter(handover=handover).update(sent_at=timezone.now() - timedelta(minutes=5))

    result = service.send_queued(handover_id=handover.pk)
    assert (result.groups_sent, result.group_calls) == (50, 1)  # only the batch WeCom never saw
    assert server.calls(ON_JOB) == 2
    assert all(len(server.corp.chat_transfers[g.chat_id]) == 1 for g in groups)
    assert group_statuses(handover) == {"done": 150}
    assert set(CustomerGroup.objects.values_list("owner__userid", flat=True)) == {"erin"}


def test_rate_limited_leaves_the_rest_queued(make_corp, alice, staff):
    server = corp_for(make_corp, 150)
    seed_groups(server.corp, staff["carol"], 150)
    server.set_limits({"per_minute": 1, "concurrency": 50})
    handover = start(alice, staff["carol"], staff["erin"])
    result = service.send_queued(handover_id=handover.pk)
    assert result.retry_after is not None and result.retry_after > 0
    assert result.groups_sent == 100
    assert group_statuses(handover) == {"done": 100, "queued": 50}
    assert not handover.groups.filter(status=GroupItemStatus.QUEUED, sent_at__isnull=False).exists()
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.RUNNING


def test_cancel_and_subset_handovers(make_corp, alice, staff):
    server = corp_for(make_corp, 4)
    contacts = seed(server.corp, staff["carol"])
    seed_groups(server.corp, staff["carol"], 4)
    subset = start(alice, staff["carol"], staff["erin"], external_userids=[contacts[0].external_userid])
    assert subset.groups.count() == 0  # only the named customers
    handover = start(alice, staff["carol"], staff["erin"])
    assert handover.groups.count() == 4
    service.cancel_queued(handover=handover, actor=alice)
    assert group_statuses(handover) == {"cancelled": 4}
    handover.refresh_from_db()
    assert handover.status == HandoverStatus.CANCELLED
    assert service.send_queued(handover_id=handover.pk).groups_sent == 0
    assert server.calls(ON_JOB) == 0


def test_store_managers_see_their_stores_handovers_groups_only(make_corp, alice, bob, client, key_client,
                                                               store_a, staff):
    server = corp_for(make_corp, 2)
    seed_groups(server.corp, staff["carol"], 2)
    seed_groups(server.corp, staff["dave"], 3)
    ours = start(alice, staff["carol"], staff["erin"])
    theirs = start(alice, staff["dave"], staff["gina"])
    assert set(HandoverGroup.objects.visible_to(bob).values_list("handover_id", flat=True)) == {ours.pk}
    assert HandoverGroup.objects.visible_to(alice).count() == 5

    client.force_login(bob)
    response = client.get(reverse("wecom-handover-detail", args=[ours.pk]))
    assert [r.handover_id for r in response.context["groups"]] == [ours.pk, ours.pk]
    assert client.get(reverse("wecom-handover-detail", args=[theirs.pk])).status_code == 404
    rows = client.get(reverse("wecom-handover-list")).content.decode()
    assert 'data-testid="group-counts">0 / 2<' in rows

    key = key_client(scopes=["wecom_handovers:read"], store=store_a)
    listed = key.get("/api/v1/wecom/handovers/").json()["results"]
    assert [(r["id"], r["group_counts"]) for r in listed] == [(ours.pk, {"total": 2, "queued": 2})]
    assert key.get(f"/api/v1/wecom/handovers/{theirs.pk}/").status_code == 404
    rows = key.get(f"/api/v1/wecom/handovers/{ours.pk}/groups/").json()["results"]
    assert [(r["name"], r["status"]) for r in rows] == [("carol的群1", "queued"), ("carol的群0", "queued")]
    assert key.get(f"/api/v1/wecom/handovers/{theirs.pk}/groups/").status_code == 404


def test_the_page_shows_group_statuses(make_corp, alice, bob, client, staff):
    server = corp_for(make_corp, 3)
    seed(server.corp, staff["carol"])
    groups = seed_groups(server.corp, staff["carol"], 3)
    server.corp.chat_owner[groups[2].chat_id] = "erin"  # this one will fail (40130)
    handover = start(alice, staff["carol"], staff["erin"])
    client.force_login(bob)
    html = client.get(reverse("wecom-handover-detail", args=[handover.pk])).content.decode()
    assert 'data-testid="handover-groups"' in html and html.count('<tr data-status="queued">') == 3 + 3
    service.send_queued(handover_id=handover.pk)
    response = client.get(reverse("wecom-handover-detail", args=[handover.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    counts = {c["status"]: c["count"] for c in response.context["group_counts"]}
    assert (counts["done"], counts["failed"], counts["queued"]) == (2, 1, 0)
    assert 'data-testid="group-count-done"' in html and "carol的群0" in html
    assert "<td class=\"num\">40130</td>" in html
    detail = client.get(f"/api/v1/wecom/handovers/{handover.pk}/")
    assert detail.json()["group_counts"] == {"total": 3, "done": 2, "failed": 1}
    listed = client.get(f"/api/v1/wecom/handovers/{handover.pk}/groups/").json()["results"]
    assert [(r["status"], r["errcode"]) for r in listed] == [("failed", 40130), ("done", None), ("done", None)]


def test_no_groups_section_without_groups(make_corp, alice, bob, client, staff):
    server = corp_for(make_corp, 0)
    seed(server.corp, staff["carol"])
    handover = start(alice, staff["carol"], staff["erin"])
    client.force_login(bob)
    html = client.get(reverse("wecom-handover-detail", args=[handover.pk])).content.decode()
    assert 'data-testid="handover-groups"' not in html
