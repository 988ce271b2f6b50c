"""WeCom's own per-customer limit as a mode of the send policy, against the local WeCom server: with
the mode on, a WeCom mass message to a customer already at WeCom's limit is suppressed as
wecom_limit in the claim (no task is created for them), counted over WeCom sends only (an outbox
message the same day does not spend it), per calendar month for the month modes; a WeCom send that
did not happen gives its WeCom count back; with the mode off WeCom's "already received" stays the
final word."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from campaigns.models import Delivery, DeliveryReason, MemberSendDay, SendPolicy, WecomLimit
from campaigns.services import respect, sending, wecom_results
from tests.campaigns.wecom import CREATE, seed, states, wecom_campaign

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def _mode(mode: str) -> None:
    SendPolicy.objects.filter(pk=1).update(wecom_limit=mode)


@pytest.mark.parametrize(("mode", "day", "caps"), [
    (WecomLimit.OFF, dt.date(2027, 2, 10), (0, 0, 0)),
    (WecomLimit.DAY_1, dt.date(2027, 2, 10), (1, 0, 0)),
    (WecomLimit.WEEK_7, dt.date(2027, 2, 10), (0, 7, 0)),
    (WecomLimit.MONTH_DAYS, dt.date(2027, 2, 10), (0, 0, 28)),
    (WecomLimit.MONTH_DAYS, dt.date(2028, 2, 10), (0, 0, 29)),
    (WecomLimit.MONTH_DAYS, dt.date(2027, 3, 31), (0, 0, 31)),
    (WecomLimit.MONTH_4, dt.date(2027, 3, 31), (0, 0, 4)),
])
def test_each_mode_is_wecoms_documented_limit(policy, mode, day, caps):
    policy.wecom_limit = mode
    assert respect.wecom_caps(policy, day) == caps


def test_with_one_a_day_a_second_wecom_send_is_suppressed_before_any_task(server, wstaff, make_campaign, policy):
    _mode(WecomLimit.DAY_1)
    made = seed(server.corp, wstaff["carol"], 3)
    first = wecom_campaign(make_campaign, name="first")
    sending.tick()
    wecom_results.poll()
    assert states(first) == {"sent": 3}
    creates = server.calls(CREATE)
    second = wecom_campaign(make_campaign, name="second")
    report = sending.tick()
    assert report.capped == 3 and server.calls(CREATE) == creates  # nothing handed to staff
    assert states(second) == {"suppressed": 3}
    assert set(Delivery.objects.filter(campaign=second).values_list("reason", flat=True)) == {
        DeliveryReason.WECOM_LIMIT}
    today = respect.local_day(timezone.now())
    rows = MemberSendDay.objects.filter(member__in=made, day=today)
    assert set(rows.values_list("count", "wecom")) == {(1, 1)}  # the refused slots were given back


def test_with_the_mode_off_wecoms_already_received_is_still_the_final_word(server, wstaff, make_campaign, policy):
    seed(server.corp, wstaff["carol"], 2)
    first = wecom_campaign(make_campaign, name="first")
    sending.tick()
    wecom_results.poll()
    second = wecom_campaign(make_campaign, name="second")
    sending.tick()
    assert server.calls(CREATE) == 2  # handed to staff: Siyu does not apply WeCom's limit
    wecom_results.poll()
    assert states(first) == {"sent": 2} and states(second) == {"suppressed": 2}
    assert set(Delivery.objects.filter(campaign=second).values_list("reason", flat=True)) == {
        DeliveryReason.ALREADY_RECEIVED}
    today = respect.local_day(timezone.now())
    assert set(MemberSendDay.objects.filter(day=today).values_list("count", "wecom")) == {(1, 1)}


def test_the_limit_counts_wecom_sends_only(server, wstaff, make_campaign, policy):
    _mode(WecomLimit.DAY_1)
    made = seed(server.corp, wstaff["carol"], 2)
    for member in made:
        member.phone = f"+8613900{member.pk:06d}"
        member.save()
    outbox = make_campaign(name="outbox first")
    sending.tick()
    assert set(Delivery.objects.filter(campaign=outbox, member__in=made).values_list("state", flat=True)) == {"sent"}
    # An outbox message does not count toward WeCom's limit: the WeCom send still goes.
    campaign = wecom_campaign(make_campaign, name="wecom after")
    sending.tick()
    wecom_results.poll()
    assert states(campaign) == {"sent": 2}
    today = respect.local_day(timezone.now())
    assert set(MemberSendDay.objects.filter(member__in=made, day=today).values_list("count", "wecom")) == {(2, 1)}


def _local(year, month, day, hour=10):
    return dt.datetime(year, month, day, hour, tzinfo=SHANGHAI)


def test_the_older_four_a_month_rule_counts_the_calendar_month(server, wstaff, make_campaign, policy):
    _mode(WecomLimit.MONTH_4)
    made = seed(server.corp, wstaff["carol"], 1)
    member = made[0]
    # Four WeCom sends already this March (counted by earlier days), one last day of February.
    MemberSendDay.objects.bulk_create([MemberSendDay(member=member, day=dt.date(2027, 2, 28), count=1, wecom=1)] + [
        MemberSendDay(member=member, day=dt.date(2027, 3, d), count=1, wecom=1) for d in (2, 9, 16, 23)])

    def send_on(when, name):
        campaign = wecom_campaign(make_campaign, name=name)
        sending.tick(now_fn=lambda: when)
        return Delivery.objects.get(campaign=campaign).reason

    assert send_on(_local(2027, 3, 30), "march") == DeliveryReason.WECOM_LIMIT
    # 1 April in Shanghai is a new calendar month for WeCom: the send is handed to staff.
    assert send_on(_local(2027, 4, 1, 0), "april") == ""
    assert MemberSendDay.objects.get(member=member, day=dt.date(2027, 4, 1)).wecom == 1


def test_a_wecom_send_that_did_not_happen_gives_its_wecom_count_back(make_corp, wstaff, make_campaign, settings,
                                                                     policy):
    from tests.campaigns.wecom import STAFF

    _mode(WecomLimit.DAY_1)
    server = make_corp(staff=STAFF, contacts_per_staff=2, shared_ratio=0, confirm_delay=0, confirm_share=0.0)
    made = seed(server.corp, wstaff["carol"])
    campaign = wecom_campaign(make_campaign)
    sending.tick()
    today = respect.local_day(timezone.now())
    assert set(MemberSendDay.objects.filter(member__in=made, day=today).values_list("wecom", flat=True)) == {1}
    from campaigns.models import WecomMassTask

    task = WecomMassTask.objects.get(campaign=campaign)
    end = task.created_at + dt.timedelta(days=settings.WECOM_MASS_CONFIRM_DAYS, seconds=1)
    WecomMassTask.objects.filter(pk=task.pk).update(next_poll_at=end)
    wecom_results.poll(now=end)
    assert states(campaign) == {"failed": 2}
    assert set(MemberSendDay.objects.filter(member__in=made, day=today).values_list("count", "wecom")) == {(0, 0)}
    # Its slot free again, the customer can be sent another WeCom message today.
    again = wecom_campaign(make_campaign, name="again")
    sending.tick()
    assert states(again) == {"accepted": 2}
