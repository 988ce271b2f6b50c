"""The WeCom customer mass-message channel against the local WeCom server: one relation per member
chosen at fan-out, one task per staff member per send, an intent recorded before every create so a
timeout is read back and never creates a second task, rate limits retried later, fail_list
customers failed; polling writes WeCom's per-customer results onto the deliveries (sent, not a
friend, already received gives the cap slot back), a task nobody confirms ends not confirmed, and a
campaign is done only when every delivery is final."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import channels
from campaigns.channels.base import Outgoing
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryReason,
    DeliveryState,
    MemberSendDay,
    WecomMassTask,
    WecomTaskState,
)
from campaigns.services import campaigns as lifecycle
from campaigns.services import fanout, respect, sending, wecom_results, wecom_tasks
from members.models import Member, StaffRelation
from scrm.errors import InvalidInput
from tests.campaigns.conftest import consent
from tests.campaigns.wecom import CREATE, STAFF, TEXT, due_now, seed, states, wecom_campaign
from wecom.client import get_client
from wecom.models import WecomContact, WecomFollow, WecomStaff

pytestmark = pytest.mark.django_db


# --- fan-out -------------------------------------------------------------------------------------


@pytest.mark.parametrize("whole", [False, True], ids=["a look-up per member", "the members read whole"])
def test_each_member_is_reached_once_through_the_owner_else_the_latest_follow(server, wstaff, make_campaign, carol,
                                                                               erin, store_a, whole, monkeypatch):
    # A big fan-out (most of the members) joins the channel's set-based choice of relation instead
    # of a look-up per member: both must choose the same relation.
    monkeypatch.setattr(fanout, "_most_members", lambda cursor, count: whole)
    corp = server.corp
    owned = seed(corp, wstaff["carol"], 2)
    # The first member is also followed, later, by erin: the owner's follow wins.
    shared = owned[0]
    later = StaffRelation.objects.create(member=shared, staff=erin, store=store_a,
                                         added_at=timezone.now() + dt.timedelta(minutes=1))
    WecomFollow.objects.create(contact=shared.wecom_contacts.get(), staff=wstaff["erin"], relation=later)
    # The second member's owner deleted them: erin's follow (the only active one) is used.
    other = owned[1]
    StaffRelation.objects.filter(member=other, staff=carol).update(staff_deleted_at=timezone.now())
    fallback = StaffRelation.objects.create(member=other, staff=erin, store=store_a)
    WecomFollow.objects.create(contact=WecomContact.objects.create(external_userid="wm-other", member=other),
                               staff=wstaff["erin"], relation=fallback)
    # A member nobody follows on WeCom is suppressed without an identity.
    lonely = Member.objects.create(name="nobody", home_store=store_a)
    consent(lonely)

    campaign = wecom_campaign(make_campaign)
    rows = {d.member_id: d for d in Delivery.objects.filter(campaign=campaign)}
    owner_relation = StaffRelation.objects.get(member=shared, staff=carol)
    assert (rows[shared.pk].relation_id, rows[shared.pk].staff_id) == (owner_relation.pk, carol.pk)
    assert (rows[other.pk].relation_id, rows[other.pk].staff_id) == (fallback.pk, erin.pk)
    assert (rows[lonely.pk].state, rows[lonely.pk].reason) == (DeliveryState.SUPPRESSED, DeliveryReason.NO_IDENTITY)
    assert rows[lonely.pk].relation_id is None


# --- creating tasks ------------------------------------------------------------------------------


def test_a_send_makes_exactly_one_task_per_staff_member(server, wstaff, make_campaign, carol, erin):
    corp = server.corp
    carols, erins = seed(corp, wstaff["carol"]), seed(corp, wstaff["erin"], 3)
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    assert server.calls(CREATE) == 2
    tasks = {t.sender: t for t in WecomMassTask.objects.filter(campaign=campaign)}
    assert set(tasks) == {"carol", "erin"}
    assert all(t.state == WecomTaskState.CREATED and t.msgid in corp.msg_tasks for t in tasks.values())
    assert (tasks["carol"].customers, tasks["erin"].customers) == (4, 3)
    assert tasks["carol"].staff_id == carol.pk and tasks["erin"].store_id == erin.store_id
    wecom_task = corp.msg_tasks[tasks["carol"].msgid]
    assert wecom_task["text"] == TEXT
    assert sorted(corp.external_userid(i) for i in wecom_task["targets"]["carol"]) == sorted(
        WecomContact.objects.filter(member__in=carols).values_list("external_userid", flat=True))
    # Accepted, not sent: nothing reached a customer before the staff member confirms.
    assert states(campaign) == {"accepted": 7}
    assert set(Delivery.objects.filter(member__in=erins).values_list("provider_message_id", flat=True)) == {
        tasks["erin"].msgid}
    sending.tick()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING  # waiting for staff, not done
    assert server.calls(CREATE) == 2


def test_a_timeout_after_wecom_made_the_task_does_not_make_a_second(server, wstaff, make_campaign, settings):
    corp = server.corp
    carols = seed(corp, wstaff["carol"])
    seed(corp, wstaff["erin"], 2)
    settings.WECOM_TIMEOUT_SECONDS = 1
    server.delay_answers(CREATE, 2.0)  # WeCom makes the task, its answer comes after the client gave up
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    assert len(corp.msg_tasks) == 2 and server.calls(CREATE) == 2
    assert set(WecomMassTask.objects.filter(campaign=campaign).values_list("state", "msgid")) == {
        (WecomTaskState.UNKNOWN, "")}
    assert states(campaign) == {"pending": 6}

    server.delay_answers(CREATE, 0)
    due_now(campaign)
    sending.tick()  # the retry reads WeCom back first and finds each staff member's own task
    assert server.calls(CREATE) == 2 and len(corp.msg_tasks) == 2
    by_sender = {next(iter(t["targets"])): msgid for msgid, t in corp.msg_tasks.items()}
    tasks = {t.sender: t for t in WecomMassTask.objects.filter(campaign=campaign)}
    assert {s: t.state for s, t in tasks.items()} == {"carol": WecomTaskState.CREATED, "erin": WecomTaskState.CREATED}
    assert {s: t.msgid for s, t in tasks.items()} == by_sender
    assert states(campaign) == {"accepted": 6}
    assert set(Delivery.objects.filter(member__in=carols).values_list("provider_message_id", flat=True)) == {
        by_sender["carol"]}


def test_settle_finds_the_task_of_a_worker_that_died_mid_call(server, wstaff, make_campaign, policy):
    corp = server.corp
    seed(corp, wstaff["carol"])
    campaign = wecom_campaign(make_campaign)
    claimed, _ = sending.claim(campaign, limit=100, now=timezone.now(), pol=policy)
    outgoing = [Outgoing(c.send_month, c.id, campaign.pk, c.member_id, "", TEXT) for c in claimed]
    found = wecom_tasks.targets(outgoing)
    # The worker wrote its intent and made the call, then died before writing the answer.
    wecom_tasks._intent(campaign.pk, next(iter(found.values())), TEXT, [o.delivery_id for o in outgoing],
                        timezone.now() - dt.timedelta(minutes=10))
    get_client().post(CREATE, {"chat_type": "single", "sender": "carol", "text": {"content": TEXT},
                               "external_userid": [t.external_userid for t in found.values()]})
    Delivery.objects.filter(campaign=campaign).update(claimed_at=timezone.now() - dt.timedelta(minutes=10))
    report = sending.tick(lease=dt.timedelta(minutes=5))
    assert report.settled == 4
    assert server.calls(CREATE) == 1 and len(corp.msg_tasks) == 1
    assert states(campaign) == {"accepted": 4}
    assert WecomMassTask.objects.get(campaign=campaign).msgid == next(iter(corp.msg_tasks))


def test_a_rate_limit_creates_nothing_and_retries_later(server, wstaff, make_campaign):
    seed(server.corp, wstaff["carol"])
    seed(server.corp, wstaff["erin"], 2)
    server.set_limits({"per_minute": 0, "per_hour": None, "concurrency": None})
    campaign = wecom_campaign(make_campaign)
    before = timezone.now()
    sending.tick()
    assert server.corp.msg_tasks == {}
    assert server.calls(CREATE) == 1  # the first staff member's call; the other waits without calling
    assert states(campaign) == {"pending": 6}
    assert not Delivery.objects.filter(campaign=campaign,
                                      next_attempt_at__lte=before + dt.timedelta(seconds=20)).exists()
    assert set(WecomMassTask.objects.filter(campaign=campaign).values_list("state", flat=True)) == {"failed"}
    # The slots taken at the claim were given back: nothing was sent.
    assert set(MemberSendDay.objects.values_list("count", flat=True)) == {0}


def test_customers_in_the_fail_list_fail_the_rest_are_accepted(server, wstaff, make_campaign):
    corp = server.corp
    made = seed(corp, wstaff["carol"])
    WecomContact.objects.filter(member=made[0]).update(external_userid="wm-not-in-the-corp")
    corp.delete(external_userid=corp.external_userid(corp.contacts_of("carol")[1]), userid="carol")
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    rows = {d.member_id: d for d in Delivery.objects.filter(campaign=campaign)}
    assert (rows[made[0].pk].state, rows[made[0].pk].reason) == ("failed", DeliveryReason.NOT_A_FRIEND)
    assert (rows[made[1].pk].state, rows[made[1].pk].reason) == ("failed", DeliveryReason.NOT_A_FRIEND)
    assert {rows[m.pk].state for m in made[2:]} == {"accepted"}
    task = WecomMassTask.objects.get(campaign=campaign)
    assert (task.customers, task.refused) == (2, 2)
    assert sorted(task.delivery_ids) == sorted(rows[m.pk].id for m in made[2:])


def test_a_create_wecom_refuses_fails_that_staff_members_deliveries_for_good(server, wstaff, make_campaign):
    seed(server.corp, wstaff["carol"], 2)
    seed(server.corp, wstaff["erin"], 1)
    WecomStaff.objects.filter(userid="carol").update(userid="ghost")  # WeCom knows no such staff member
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    assert states(campaign) == {"failed": 2, "accepted": 1}
    assert set(Delivery.objects.filter(campaign=campaign, state="failed").values_list("reason", flat=True)) == {
        DeliveryReason.PROVIDER_ERROR}
    task = WecomMassTask.objects.get(campaign=campaign, sender="ghost")
    assert task.state == WecomTaskState.FAILED and "40003" in task.error
    assert server.calls(CREATE) == 2


def test_wecom_not_connected_is_refused(no_wecom, make_campaign, everyone):
    with pytest.raises(InvalidInput) as refused:
        wecom_campaign(make_campaign, start=False)
    assert "channel" in refused.value.details


def test_personal_fields_are_refused(server, make_campaign):
    with pytest.raises(InvalidInput) as refused:
        wecom_campaign(make_campaign, content="{name}，新品到店", start=False)
    assert "{name}" in str(refused.value.details["content"][0])


# --- results -------------------------------------------------------------------------------------


def test_polling_writes_each_customers_result_and_the_campaign_is_done_when_all_are_final(
        server, wstaff, make_campaign):
    corp = server.corp
    made = seed(corp, wstaff["carol"])
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    # Before the staff member confirms, one customer deletes them: WeCom reports "not a friend".
    gone = WecomContact.objects.get(member=made[0]).external_userid
    corp.delete(external_userid=gone, userid="carol")
    report = wecom_results.poll()
    assert (report.polled, report.sent, report.not_friends) == (1, 3, 1)
    rows = {d.member_id: d for d in Delivery.objects.filter(campaign=campaign)}
    assert (rows[made[0].pk].state, rows[made[0].pk].reason) == ("failed", DeliveryReason.NOT_A_FRIEND)
    wecom_task = next(iter(corp.msg_tasks.values()))
    for m in made[1:]:
        assert rows[m.pk].state == "sent"
        assert rows[m.pk].sent_at == dt.datetime.fromtimestamp(wecom_task["send_time"]["carol"], tz=dt.UTC)
    task = WecomMassTask.objects.get(campaign=campaign)
    assert task.finished_at is not None and task.confirmed_at is not None
    sending.tick()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    assert wecom_results.poll().polled == 0  # finished tasks are not polled again


def test_already_received_is_final_and_gives_the_cap_slot_back(server, wstaff, make_campaign, policy):
    corp = server.corp  # daily_cap 1: a customer gets one mass message a day
    made = seed(corp, wstaff["carol"], 2)
    first = wecom_campaign(make_campaign, name="first")
    sending.tick()
    wecom_results.poll()
    assert states(first) == {"sent": 2}
    today = respect.local_day(timezone.now())
    assert set(MemberSendDay.objects.filter(day=today).values_list("count", flat=True)) == {1}
    second = wecom_campaign(make_campaign, name="second")
    sending.tick()
    assert set(MemberSendDay.objects.filter(day=today).values_list("count", flat=True)) == {2}
    report = wecom_results.poll()
    assert report.already_received == 2
    assert states(second) == {"suppressed": 2}
    assert set(Delivery.objects.filter(campaign=second).values_list("reason", flat=True)) == {
        DeliveryReason.ALREADY_RECEIVED}
    assert set(MemberSendDay.objects.filter(member__in=made, day=today).values_list("count", flat=True)) == {1}


def test_a_task_nobody_confirms_ends_not_confirmed_when_it_can_no_longer_be(make_corp, wstaff, make_campaign,
                                                                            settings):
    server = make_corp(staff=STAFF, contacts_per_staff=3, shared_ratio=0, confirm_delay=0, confirm_share=0.0)
    seed(server.corp, wstaff["carol"])
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    task = WecomMassTask.objects.get(campaign=campaign)
    now = timezone.now()
    report = wecom_results.poll(now=now)
    assert report.polled == 1 and states(campaign) == {"accepted": 3}
    task.refresh_from_db()
    assert task.finished_at is None and task.next_poll_at == now + dt.timedelta(minutes=5)
    # Later on the cadence slows down: hourly after six hours, daily after three days.
    assert wecom_results.cadence(dt.timedelta(hours=7)) == dt.timedelta(hours=1)
    assert wecom_results.cadence(dt.timedelta(days=4)) == dt.timedelta(days=1)
    sending.tick()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    # Polled for as long as it can be confirmed (30 days), not for a week.
    week = now + dt.timedelta(days=8)
    WecomMassTask.objects.filter(pk=task.pk).update(next_poll_at=week)
    assert wecom_results.poll(now=week).polled == 1 and states(campaign) == {"accepted": 3}
    end = task.created_at + dt.timedelta(days=settings.WECOM_MASS_CONFIRM_DAYS, seconds=1)
    WecomMassTask.objects.filter(pk=task.pk).update(next_poll_at=end)
    report = wecom_results.poll(now=end)
    assert report.expired == 3
    assert states(campaign) == {"failed": 3}
    assert set(Delivery.objects.filter(campaign=campaign).values_list("reason", flat=True)) == {
        DeliveryReason.NOT_CONFIRMED}
    assert set(MemberSendDay.objects.values_list("count", flat=True)) == {0}
    sending.tick()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE


def test_cancelling_a_campaign_cancels_its_tasks_in_wecom(make_corp, wstaff, make_campaign, alice):
    server = make_corp(staff=STAFF, contacts_per_staff=3, shared_ratio=0, confirm_delay=3600, confirm_share=1.0)
    seed(server.corp, wstaff["carol"])
    seed(server.corp, wstaff["erin"])
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    lifecycle.cancel(campaign=campaign, actor=alice)
    now = timezone.now()
    report = wecom_results.poll(now=now)
    assert report.cancelled == 2
    assert all(t["cancelled"] for t in server.corp.msg_tasks.values())
    assert server.calls("externalcontact/cancel_groupmsg_send") == 2
    assert wecom_results.poll(now=now).cancelled == 0  # once
    later = now + dt.timedelta(minutes=2)
    wecom_results.poll(now=later)
    assert states(campaign) == {"suppressed": 6}
    assert set(Delivery.objects.filter(campaign=campaign).values_list("reason", flat=True)) == {
        DeliveryReason.CANCELLED}
    assert WecomMassTask.objects.filter(campaign=campaign, finished_at__isnull=True).count() == 0


def test_reminders_are_capped_at_three_a_day(make_corp, wstaff, make_campaign, alice):
    from scrm.errors import Conflict

    server = make_corp(staff=STAFF, contacts_per_staff=2, shared_ratio=0, confirm_delay=3600, confirm_share=1.0)
    seed(server.corp, wstaff["carol"])
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    task = WecomMassTask.objects.get(campaign=campaign)
    for _ in range(3):
        task = wecom_tasks.remind(task=task, actor=alice)
    assert len(task.reminded_at) == 3
    with pytest.raises(Conflict):
        wecom_tasks.remind(task=task, actor=alice)
    assert server.calls("externalcontact/remind_groupmsg_send") == 3
    # A day later one more is allowed.
    later = timezone.now() + dt.timedelta(hours=24, seconds=1)
    server.corp.travel(24 * 3600 + 1)
    task = wecom_tasks.remind(task=task, actor=alice, now=later)
    assert len(task.reminded_at) == 1


def test_campaign_is_done_only_when_every_delivery_is_final(server, wstaff, make_campaign):
    seed(server.corp, wstaff["carol"], 2)
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    assert sending.finish(now=timezone.now()) == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM campaigns_delivery WHERE campaign_id = %s AND state = 'accepted'",
                       [campaign.pk])
        assert cursor.fetchone()[0] == 2
    wecom_results.poll()
    assert sending.finish(now=timezone.now()) == 1
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DONE


def test_claims_keep_a_staff_members_customers_together_so_each_gets_one_task(server, wstaff, make_campaign,
                                                                             monkeypatch, carol, erin):
    seed(server.corp, wstaff["erin"], 3)  # erin's members come first in member order
    seed(server.corp, wstaff["carol"], 4)
    monkeypatch.setattr(channels.get("wecom"), "batch_size", 4)
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    tasks = sorted(WecomMassTask.objects.filter(campaign=campaign).values_list("sender", "customers"))
    assert tasks == [("carol", 4), ("erin", 3)]
    assert server.calls(CREATE) == 2


def test_an_unknown_outcome_wecom_has_no_record_of_is_created_once_after_reading_back(server, wstaff,
                                                                                     make_campaign, policy):
    seed(server.corp, wstaff["carol"], 3)
    campaign = wecom_campaign(make_campaign)
    claimed, _ = sending.claim(campaign, limit=100, now=timezone.now(), pol=policy)
    outgoing = [Outgoing(c.send_month, c.id, campaign.pk, c.member_id, "", TEXT) for c in claimed]
    target = next(iter(wecom_tasks.targets(outgoing).values()))
    # A worker recorded its intent and died before its call reached WeCom.
    ghost = wecom_tasks._intent(campaign.pk, target, TEXT, [o.delivery_id for o in outgoing],
                                timezone.now() - dt.timedelta(minutes=10))
    WecomMassTask.objects.filter(pk=ghost.pk).update(state=WecomTaskState.UNKNOWN)
    Delivery.objects.filter(campaign=campaign).update(claimed_at=timezone.now() - dt.timedelta(minutes=10))
    sending.tick(lease=dt.timedelta(minutes=5))  # settled: WeCom lists no task, so they are due again
    sending.tick()
    assert server.calls("externalcontact/get_groupmsg_list_v2") >= 1
    assert server.calls(CREATE) == 1 and len(server.corp.msg_tasks) == 1
    ghost.refresh_from_db()
    assert ghost.state == WecomTaskState.FAILED and ghost.msgid == ""
    made = WecomMassTask.objects.get(campaign=campaign, state=WecomTaskState.CREATED)
    assert made.msgid in server.corp.msg_tasks
    assert states(campaign) == {"accepted": 3}


def test_a_rate_limited_poll_waits_and_writes_nothing(server, wstaff, make_campaign):
    seed(server.corp, wstaff["carol"], 2)
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    server.set_limits({"per_minute": 0, "per_hour": None, "concurrency": None})
    now = timezone.now()
    report = wecom_results.poll(now=now)
    assert report.polled == 0 and report.errors
    assert states(campaign) == {"accepted": 2}
    task = WecomMassTask.objects.get(campaign=campaign)
    assert task.next_poll_at >= now + dt.timedelta(seconds=30) and task.finished_at is None
