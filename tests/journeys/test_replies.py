"""SMS replies end to end: a journey's SMS goes out through the local SMS provider (campaigns.fake.sms),
the member answers, the provider POSTs the signed reply to the running site; the reply is stored once
per provider message id, tied to the member and the journey's campaign, shown on the timeline, and the
journey's "replied" branch follows it. "TD" / "退订" withdraw SMS consent with the reason; forged,
stale and malformed callbacks are refused and change nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from campaigns.fake import sms as fake_sms
from campaigns.models import Campaign, Delivery
from campaigns.replies import services as replies
from campaigns.replies.models import Reply
from campaigns.services import sending
from journeys.models import JourneyCampaign, JourneyRun, JourneyRunStep, Task
from journeys.services import journeys as svc
from journeys.services import ticking
from journeys.services.journeys import JourneyInput, StepInput
from members import timeline
from members.models import Consent, ConsentChannel, ConsentPurpose, ConsentRecord, Identity, Member
from members.services import consent
from scrm.actors import SystemActor
from scrm.errors import InvalidInput

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = SystemActor("rule:test")
KEY = "test-sms-key-0123456789"
SECRET = "test-reply-secret-abcdef"


@pytest.fixture
def provider(settings, live_server):
    running = fake_sms.start(fake_sms.Provider(key=KEY, reply_url=f"{live_server.url}/sms/replies/",
                                               reply_secret=SECRET))
    settings.SIYU_SMS_URL, settings.SIYU_SMS_KEY = running.url, KEY
    settings.SIYU_SMS_TIMEOUT, settings.SIYU_SMS_RATE = 2, 200
    settings.SIYU_SMS_REPLY_SECRET = SECRET
    try:
        yield running.provider
    finally:
        running.stop()


def _allow(*members):
    for member in members:
        for channel in (ConsentChannel.SMS, ConsentChannel.WECOM):  # the SMS, and a task for the staff
            consent.set_consent(member=member, purpose=ConsentPurpose.MARKETING, channel=channel, granted=True,
                                actor=SYSTEM)


def _tick(now):
    return ticking.tick(now_fn=lambda: now)


def _journey(actor, members):
    """Birthday members get an SMS; a day later, who replied gets a task, the others leave."""
    today = timezone.localdate()
    for m in members:
        Member.objects.filter(pk=m.pk).update(birthday=today.replace(year=1990))
    _allow(*members)
    journey = svc.create_journey(actor=actor, data=JourneyInput(name="回复跟进", trigger="birthday", steps=[
        StepInput("send", {"channel": "sms", "content": "{name}，生日快乐！回复1预约到店"}),
        StepInput("wait", {"mode": "duration", "days": 1}),
        StepInput("branch", {"condition": "replied", "goto": 5}),
        StepInput("exit", {}),
        StepInput("task", {"kind": "follow_up", "title": "回复了生日短信"})]))
    return svc.activate(actor=actor, journey=journey)


def _sent(now):
    report = sending.tick(budget=10, now_fn=lambda: now)
    assert report.sent >= 1
    return report


def test_a_reply_to_the_journeys_sms_takes_the_replied_branch(alice, members, provider):
    a, _b = members
    replier, silent = a[0], a[1]
    journey = _journey(alice, [replier, silent])
    now = timezone.now() + dt.timedelta(minutes=1)
    assert _tick(now).queued == 2
    _sent(now + dt.timedelta(minutes=1))
    assert {m.to for m in provider.messages} == {replier.phone, silent.phone}
    (campaign_id,) = JourneyCampaign.objects.filter(step__journey=journey).values_list("campaign_id", flat=True)

    callback = provider.reply(replier.phone, "1，周六下午来", received_at=now + dt.timedelta(minutes=3))
    assert callback.status == 200 and json.loads(callback.answer) == {"status": "stored"}
    reply = Reply.objects.get()
    delivery = Delivery.objects.get(campaign_id=campaign_id, member=replier)
    assert (reply.member_id, reply.campaign_id, reply.delivery_id) == (replier.pk, campaign_id, delivery.id)
    assert reply.text == "1，周六下午来" and not reply.opted_out
    # The provider repeats the callback (it missed the answer): one reply still.
    again = provider.resend(callback)
    assert again.status == 200 and json.loads(again.answer) == {"status": "duplicate"}
    assert Reply.objects.count() == 1

    _tick(now + dt.timedelta(days=1, minutes=5))
    runs = {r.member_id: r for r in JourneyRun.objects.all()}
    assert runs[silent.pk].state == "exited" and runs[silent.pk].reason == "exit_step"
    assert runs[replier.pk].state == "done"
    outcomes = dict(JourneyRunStep.objects.filter(run=runs[replier.pk], step__position=3)
                    .values_list("run__member_id", "outcome"))
    assert outcomes == {replier.pk: "yes"}
    assert list(Task.objects.values_list("member_id", flat=True)) == [replier.pk]

    page = timeline.page(replier, alice)
    texts = [e.text for e in page.entries if e.code == "replied"]
    assert texts and "1，周六下午来" in texts[0]


def test_only_replies_to_this_journey_since_entering_count(alice, members, provider):
    a, _b = members
    member = a[0]
    _allow(member)
    # An SMS of another campaign, answered before the journey: neither counts for the branch.
    other = Campaign.objects.create(name="其他", channel="sms", content="x", status="sending",
                                    scheduled_at=timezone.now(), started_at=timezone.now(),
                                    send_month=timezone.localdate().replace(day=1))
    Delivery.objects.create(campaign=other, member=member, send_month=other.send_month, state="sent",
                            sent_at=timezone.now() - dt.timedelta(minutes=5), provider_message_id="x1")
    assert json.loads(provider.reply(member.phone, "什么活动？").answer) == {"status": "stored"}
    assert Reply.objects.get().campaign_id == other.pk
    _journey(alice, [member])
    now = timezone.now() + dt.timedelta(minutes=1)
    _tick(now)
    _sent(now + dt.timedelta(minutes=1))
    _tick(now + dt.timedelta(days=1, minutes=5))
    run = JourneyRun.objects.get()
    assert run.state == "exited" and not Task.objects.exists()


def test_td_and_tuiding_opt_the_number_out_of_sms_with_the_reason(alice, members, provider):
    a, b = members
    member, twin = a[0], b[0]
    Member.objects.filter(pk=twin.pk).update(phone="")
    Identity.objects.create(member=twin, channel="phone", external_id=member.phone)  # the same number
    _allow(member, twin, a[1])
    assert json.loads(provider.reply(member.phone, " TD ").answer)["status"] in ("stored", "unmatched")
    for who in (member, twin):
        answer = Consent.objects.get(member=who, purpose=ConsentPurpose.MARKETING, channel=ConsentChannel.SMS)
        assert answer.granted is False
        record = ConsentRecord.objects.filter(member=who, channel=ConsentChannel.SMS).latest("id")
        assert record.source == "sms_reply" and "TD" in record.evidence and not record.granted
    assert Reply.objects.get().opted_out
    # 退订 from another number; a message that merely mentions stopping opts nobody out.
    provider.reply(a[1].phone, "退订。")
    assert not Consent.objects.get(member=a[1], purpose="marketing", channel="sms").granted
    a2 = a[2]
    _allow(a2)
    provider.reply(a2.phone, "stop sending me the weekend ones please")
    assert Consent.objects.get(member=a2, purpose="marketing", channel="sms").granted
    assert replies.is_unsubscribe("Unsubscribe!") and replies.is_unsubscribe("退订")
    assert not replies.is_unsubscribe("T恤")


def test_forged_stale_and_malformed_callbacks_are_refused(members, provider):
    a, _b = members
    forged = provider.reply(a[0].phone, "TD", secret="not-the-secret")
    assert forged.status == 401
    stale = provider.reply(a[0].phone, "TD", timestamp=int(timezone.now().timestamp()) - 3600)
    assert stale.status == 401
    bad = provider.reply("13800138000", "hi")  # not E.164
    assert bad.status == 400 and json.loads(bad.answer)["error"]["field"] == "from"
    assert not Reply.objects.exists() and not ConsentRecord.objects.filter(channel="sms").exists()


def test_a_number_no_member_has_keeps_nothing_personal(members, provider):
    callback = provider.reply("+8613999999999", "你们是谁")
    assert json.loads(callback.answer) == {"status": "unmatched"}
    reply = Reply.objects.get()
    assert (reply.member_id, reply.phone, reply.text) == (None, "", "")
    assert json.loads(provider.resend(callback).answer) == {"status": "duplicate"}


def test_unconfigured_secret_refuses(settings, members, provider):
    settings.SIYU_SMS_REPLY_SECRET = ""
    assert provider.reply(members[0][0].phone, "hi").status == 503
    with pytest.raises(InvalidInput):
        replies.record_reply(message_id="m1", phone="138", text="x", received_at=timezone.now())


def test_a_replied_branch_needs_an_sms_send_before_it(alice, settings):
    settings.SIYU_SMS_URL, settings.SIYU_SMS_KEY = "http://127.0.0.1:9", KEY
    steps = [StepInput("send", {"channel": "outbox", "content": "你好"}),
             StepInput("branch", {"condition": "replied", "goto": 3}), StepInput("exit", {})]
    with pytest.raises(InvalidInput) as excinfo:
        svc.create_journey(actor=alice, data=JourneyInput(name="J", trigger="birthday", steps=steps))
    assert "condition" in excinfo.value.details["steps"]["2"]
