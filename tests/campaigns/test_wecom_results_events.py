"""WeCom's later word on accepted deliveries (a customer's result, or the task ending unconfirmed or
cancelled) writes delivery.state_changed in the same statement as the state: one event per delivery
whose state changed, none for a row a later poll finds already final."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from campaigns.models import Delivery, DeliveryReason, WecomMassTask
from campaigns.services import campaigns as lifecycle
from campaigns.services import sending, wecom_results
from scrm.models import Event
from tests.campaigns.wecom import STAFF, seed, states, wecom_campaign
from wecom.models import WecomContact

pytestmark = pytest.mark.django_db


def changes(after: int = 0) -> list[tuple[int, int, str, str]]:
    """(delivery, member, state, reason) of each delivery.state_changed event after event id `after`."""
    return [(e.data["delivery"]["id"], e.member_id, e.data["state"], e.data["reason"])
            for e in Event.objects.filter(type="delivery.state_changed", id__gt=after).order_by("id")]


def last_event() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def finals(campaign) -> set[tuple[int, int, str, str]]:
    return set(Delivery.objects.filter(campaign=campaign).values_list("id", "member_id", "state", "reason"))


def test_each_customers_result_is_one_event_and_a_second_poll_adds_none(server, wstaff, make_campaign):
    corp = server.corp
    made = seed(corp, wstaff["carol"])
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    assert states(campaign) == {"accepted": 4}
    before = last_event()
    assert changes(before) == []
    corp.delete(external_userid=WecomContact.objects.get(member=made[0]).external_userid, userid="carol")
    report = wecom_results.poll()
    assert (report.sent, report.not_friends) == (3, 1)
    written = changes(before)
    assert len(written) == 4 and set(written) == finals(campaign)
    assert Counter(state for _d, _m, state, _r in written) == {"sent": 3, "failed": 1}
    assert {(m, r) for _d, m, state, r in written if state == "failed"} == {(made[0].pk, DeliveryReason.NOT_A_FRIEND)}
    event = Event.objects.filter(type="delivery.state_changed", id__gt=before).first()
    assert event.store_id == made[0].home_store_id and event.data["channel"] == "wecom"
    assert event.data["campaign"] == {"id": campaign.pk}
    # WeCom answers the same results again: nothing changes, nothing more is told.
    WecomMassTask.objects.update(finished_at=None, next_poll_at=timezone.now())
    again = last_event()
    wecom_results.poll()
    assert changes(again) == []


def test_a_task_ending_unconfirmed_is_one_failed_event_per_delivery_still_waiting(make_corp, wstaff, make_campaign,
                                                                                    settings):
    server = make_corp(staff=STAFF, contacts_per_staff=3, shared_ratio=0, confirm_delay=0, confirm_share=0.0)
    seed(server.corp, wstaff["carol"])
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    task = WecomMassTask.objects.get(campaign=campaign)
    before = last_event()
    wecom_results.poll(now=timezone.now())
    assert changes(before) == []  # still waiting for the staff member: no state changed
    end = task.created_at + dt.timedelta(days=settings.WECOM_MASS_CONFIRM_DAYS, seconds=1)
    WecomMassTask.objects.filter(pk=task.pk).update(next_poll_at=end)
    assert wecom_results.poll(now=end).expired == 3
    written = changes(before)
    assert len(written) == 3 and set(written) == finals(campaign)
    assert {(state, reason) for *_k, state, reason in written} == {("failed", DeliveryReason.NOT_CONFIRMED)}
    WecomMassTask.objects.filter(pk=task.pk).update(finished_at=None, next_poll_at=end)
    again = last_event()
    wecom_results.poll(now=end + dt.timedelta(minutes=1))
    assert changes(again) == []


def test_a_cancelled_tasks_unsent_deliveries_are_one_cancelled_event_each(make_corp, wstaff, make_campaign, alice):
    server = make_corp(staff=STAFF, contacts_per_staff=3, shared_ratio=0, confirm_delay=3600, confirm_share=1.0)
    seed(server.corp, wstaff["carol"])
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    lifecycle.cancel(campaign=campaign, actor=alice)
    before = last_event()
    now = timezone.now()
    wecom_results.poll(now=now)
    wecom_results.poll(now=now + dt.timedelta(minutes=2))
    written = changes(before)
    assert len(written) == 3 and set(written) == finals(campaign)
    assert {(state, reason) for *_k, state, reason in written} == {("suppressed", DeliveryReason.CANCELLED)}
    wecom_results.poll(now=now + dt.timedelta(minutes=4))
    assert len(changes(before)) == 3
