"""Campaign messages to WeCom customer groups against the local WeCom server: the groups of the
audience become one group delivery each; the tick makes one add_msg_template task (chat_type group)
per group owner with that owner's chat_id_list; a worker that died between its intent and WeCom's
answer is settled by reading WeCom's tasks back, without a second task; results are polled per group
(sent, or unsent when the owner never sends it); cancelling cancels the tasks in WeCom; store
managers send only to their store's groups, and the API lists the rows scoped the same way."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import (
    CampaignStatus,
    DeliveryReason,
    GroupDelivery,
    WecomMassTask,
    WecomTaskState,
)
from campaigns.services import campaigns as lifecycle
from campaigns.services import group_messages, sending, wecom_results
from scrm.errors import InvalidInput
from tests.campaigns.wecom import CREATE, STAFF, TEXT
from wecom.client import get_client
from wecom.models import CustomerGroup, SyncKind
from wecom.services import sync

pytestmark = pytest.mark.django_db(transaction=True)

CANCEL = "externalcontact/cancel_groupmsg_send"


@pytest.fixture
def groups_of(make_corp, wstaff, alice, policy):
    """The local server (carol and erin of store A, dave of store B, two groups each) with its groups
    synced; returns a function making a server with other confirmation settings first."""

    def make(**kwargs):
        kwargs = {"staff": STAFF, "contacts_per_staff": 4, "shared_ratio": 0, "confirm_delay": 0,
                  "confirm_share": 1.0, **kwargs}
        server = make_corp(**kwargs)
        run = sync.start_run(kind=SyncKind.GROUPS, actor=alice).run
        while (outcome := sync.run_step(run_id=run.pk)) == "more":
            pass
        assert outcome == "done" and CustomerGroup.objects.count() == 6
        return server

    return make


def send_to(actor, **audience):
    campaign = group_messages.create_group_campaign(actor=actor, name="周末骑行", content=TEXT, **audience)
    lifecycle.approve(campaign=campaign, actor=actor)
    return lifecycle.send(campaign=campaign, actor=actor)


def rows(campaign) -> dict[str, str]:
    return dict(GroupDelivery.objects.filter(campaign=campaign).values_list("chat_id", "state"))


def test_a_send_makes_one_task_per_owner_with_their_groups(groups_of, alice, store_a, wstaff):
    server = groups_of()
    campaign = send_to(alice, store=store_a)
    store_a_groups = CustomerGroup.objects.filter(store=store_a)
    assert set(rows(campaign)) == set(store_a_groups.values_list("chat_id", flat=True)) and len(rows(campaign)) == 4
    assert set(rows(campaign).values()) == {"pending"}

    sending.tick()
    assert server.calls(CREATE) == 2
    tasks = {t["creator"]: t for t in server.corp.msg_tasks.values()}
    assert set(tasks) == {"carol", "erin"} and {t["chat_type"] for t in tasks.values()} == {"group"}
    for owner, task in tasks.items():
        assert sorted(task["chats"]) == sorted(store_a_groups.filter(owner_userid=owner).values_list("chat_id",
                                                                                                     flat=True))
    ours = {t.sender: t for t in WecomMassTask.objects.filter(campaign=campaign)}
    assert {t.chat_type for t in ours.values()} == {"group"} and {t.state for t in ours.values()} == {"created"}
    for row in GroupDelivery.objects.filter(campaign=campaign):
        assert row.state == "accepted" and row.msgid == ours[row.sender].msgid and row.task_id == ours[row.sender].pk

    sending.tick()
    assert server.calls(CREATE) == 2  # every group is in a task: nothing more is created

    report = wecom_results.poll()
    assert report.polled == 2 and report.sent == 4
    assert set(rows(campaign).values()) == {"sent"}
    assert all(r.sent_at for r in GroupDelivery.objects.filter(campaign=campaign))
    sending.tick()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    assert group_messages.counts(campaign) | {"total": 4} == group_messages.counts(campaign)
    assert group_messages.counts(campaign)["sent"] == 4


def test_a_worker_that_died_between_intent_and_answer_is_settled_by_reading_back(groups_of, alice, wstaff):
    server = groups_of()
    carol_owner = CustomerGroup.objects.filter(owner_userid="carol")
    campaign = send_to(alice, owners=[wstaff["carol"], wstaff["dave"]])
    # The worker committed carol's intent, WeCom made the task, and the worker died before the answer.
    intent = group_messages._claim(campaign, "carol", TEXT, timezone.now() - dt.timedelta(minutes=10))
    chats = list(GroupDelivery.objects.filter(pk__in=intent.delivery_ids).values_list("chat_id", flat=True))
    made = get_client().post(CREATE, {"chat_type": "group", "sender": "carol", "text": {"content": TEXT},
                                      "chat_id_list": chats})["msgid"]
    assert set(GroupDelivery.objects.filter(campaign=campaign, sender="carol").values_list("state", flat=True)) == {
        "sending"}

    sending.tick()
    assert server.calls(CREATE) == 2  # the dead worker's call and dave's: none again for carol
    assert [t["creator"] for t in server.corp.msg_tasks.values()].count("carol") == 1
    intent.refresh_from_db()
    assert (intent.state, intent.msgid) == (WecomTaskState.CREATED, made)
    carols = GroupDelivery.objects.filter(campaign=campaign, sender="carol")
    assert set(carols.values_list("state", "msgid")) == {("accepted", made)}
    assert carols.count() == carol_owner.count() == 2
    assert set(GroupDelivery.objects.filter(campaign=campaign, sender="dave").values_list("state", flat=True)) == {
        "accepted"}


def test_an_intent_wecom_never_got_is_created_once_after_reading_back(groups_of, alice, wstaff):
    server = groups_of()
    campaign = send_to(alice, groups=list(CustomerGroup.objects.filter(owner_userid="erin")))
    ghost = group_messages._claim(campaign, "erin", TEXT, timezone.now() - dt.timedelta(minutes=10))
    sending.tick()
    ghost.refresh_from_db()
    assert ghost.state == WecomTaskState.FAILED  # WeCom lists no such task
    assert server.calls("externalcontact/get_groupmsg_list_v2") >= 1
    assert server.calls(CREATE) == 1 and len(server.corp.msg_tasks) == 1
    assert set(rows(campaign).values()) == {"accepted"}


def test_a_fresh_intent_holds_the_owner_back_until_its_worker_answers_or_is_gone(groups_of, alice, wstaff):
    server = groups_of()
    campaign = send_to(alice, owners=[wstaff["erin"]])
    group_messages._claim(campaign, "erin", TEXT, timezone.now())  # another worker, mid-call
    sending.tick()
    assert server.calls(CREATE) == 0


def test_groups_the_owner_never_sends_to_end_unsent(groups_of, alice, wstaff, settings):
    server = groups_of(confirm_share=0.0)  # nobody confirms
    campaign = send_to(alice, owners=[wstaff["dave"]])
    sending.tick()
    assert server.calls(CREATE) == 1
    now = timezone.now()
    assert wecom_results.poll(now=now).sent == 0
    assert set(rows(campaign).values()) == {"accepted"}
    later = now + dt.timedelta(days=settings.WECOM_MASS_CONFIRM_DAYS, hours=1)
    WecomMassTask.objects.filter(campaign=campaign).update(next_poll_at=later)
    wecom_results.poll(now=later)
    assert set(GroupDelivery.objects.filter(campaign=campaign).values_list("state", "reason")) == {
        ("unsent", DeliveryReason.NOT_CONFIRMED)}
    sending.tick()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE


def test_cancelling_cancels_the_owners_tasks_in_wecom(groups_of, alice, wstaff):
    server = groups_of(confirm_delay=3600)
    campaign = send_to(alice, owners=[wstaff["carol"], wstaff["erin"]])
    sending.tick()
    lifecycle.cancel(campaign=campaign, actor=alice)
    now = timezone.now()
    assert wecom_results.poll(now=now).cancelled == 2
    assert server.calls(CANCEL) == 2 and all(t["cancelled"] for t in server.corp.msg_tasks.values())
    wecom_results.poll(now=now + dt.timedelta(minutes=2))
    assert set(GroupDelivery.objects.filter(campaign=campaign).values_list("state", "reason")) == {
        ("cancelled", DeliveryReason.CANCELLED)}


def test_cancelling_before_the_tick_sends_nothing(groups_of, alice, wstaff):
    server = groups_of()
    campaign = send_to(alice, owners=[wstaff["carol"]])
    lifecycle.cancel(campaign=campaign, actor=alice)
    sending.tick()
    assert server.calls(CREATE) == 0 and set(rows(campaign).values()) == {"cancelled"}


def test_store_managers_send_only_to_their_store_groups(groups_of, bob, alice, store_a, store_b, wstaff,
                                                        api_client, client):
    groups_of()
    other = CustomerGroup.objects.filter(store=store_b).first()
    with pytest.raises(InvalidInput) as refused:
        group_messages.create_group_campaign(actor=bob, name="x", content=TEXT, groups=[other])
    assert "groups" in refused.value.details
    with pytest.raises(InvalidInput):
        group_messages.create_group_campaign(actor=bob, name="x", content=TEXT, owners=[wstaff["dave"]])
    with pytest.raises(InvalidInput):
        group_messages.create_group_campaign(actor=bob, name="x", content=TEXT, store=store_b)
    with pytest.raises(InvalidInput) as personal:
        group_messages.create_group_campaign(actor=bob, name="x", content="Hi {name}", store=store_a)
    assert "content" in personal.value.details
    campaign = send_to(bob, store=store_a)
    assert campaign.store == store_a
    assert set(GroupDelivery.objects.filter(campaign=campaign).values_list("store_id", flat=True)) == {store_a.pk}

    brand = send_to(alice, owners=[wstaff["carol"], wstaff["dave"]])
    url = f"/api/v1/campaigns/{brand.pk}/group-deliveries/"
    api_client.force_authenticate(alice)
    listed = api_client.get(url).json()["results"]
    assert sorted(r["sender"] for r in listed) == ["carol", "carol", "dave", "dave"]
    assert api_client.get(url + "counts/").json()["pending"] == 4
    assert api_client.get(url, {"state": "sent"}).json()["results"] == []
    assert api_client.get(url, {"nope": 1}).status_code == 400
    api_client.force_authenticate(bob)
    own = api_client.get(f"/api/v1/campaigns/{campaign.pk}/group-deliveries/").json()["results"]
    assert len(own) == 4 and {r["store"] for r in own} == {store_a.code}
    assert api_client.get(url).status_code == 404  # a brand-wide campaign is not a store's

    client.force_login(bob)
    page = client.get(reverse("campaign-group-deliveries", args=[campaign.pk]))
    assert page.status_code == 200 and page.content.decode().count('data-state="pending"') == 4
    assert client.get(reverse("campaign-group-deliveries", args=[brand.pk])).status_code == 404
    detail = client.get(reverse("campaign-detail", args=[campaign.pk]))
    assert detail.status_code == 200 and 'data-testid="group-deliveries-loader"' in detail.content.decode()
    panel = client.get(reverse("campaign-group-deliveries", args=[campaign.pk]), headers={"HX-Request": "true"})
    body = panel.content.decode()
    assert "<html" not in body and "4 groups: 0 sent, 0 waiting for their owner" in body
    form = client.get(reverse("campaign-group-create")).content.decode()
    assert other.chat_id not in form
    made = client.post(reverse("campaign-group-create"), {"name": "门店福利", "content": TEXT, "store": store_a.pk})
    assert made.status_code == 302
    wrong = client.post(reverse("campaign-group-create"), {"name": "门店福利", "content": TEXT, "store": store_b.pk})
    assert wrong.status_code == 400
