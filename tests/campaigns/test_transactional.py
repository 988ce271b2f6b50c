"""Transactional notices (an event's or a booking's reminder): not held back by the frequency caps
and not counted toward them, sent without a marketing answer but never to a member who said no, was
erased or has no address; deferred by quiet hours, and suppressed as expired when the deferral (or
the tick) comes after what they remind of. Only the notices make them: the API and the dashboard's
form write marketing campaigns whatever they are sent. The lists tell notices apart (kind, purpose)
and the dashboard's list leaves them out unless asked."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Delivery, MemberSendDay, OutboxMessage, Purpose
from campaigns.services import notices, respect, sending
from communities import hooks
from communities.services import reminders, signups
from members.models import Member
from tests.campaigns.conftest import consent
from tests.communities.conftest import club, make_event  # noqa: F401

pytestmark = pytest.mark.django_db

T, M = Purpose.TRANSACTIONAL, Purpose.MARKETING


@pytest.fixture(autouse=True)
def sender():
    """The campaigns' sender as campaigns.plugins registers it (another test may have replaced it)."""
    hooks.register_notice_sender(notices.send_event_notices)
    yield
    hooks.register_notice_sender(notices.send_event_notices)


def _local(hour, minute=0, days=0):
    day = timezone.localdate() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))


def _notice(members, *, purpose=T, key="k1", now=None, valid_until=None, channel=None):
    return notices.send_notice(key=key, name="Eye test · a day before", store_id=None, text="Reminder: tomorrow",
                               member_ids=[m.pk for m in members], purpose=purpose, now=now or timezone.now(),
                               valid_until=valid_until, channel=channel)


def _rows(campaign):
    return {d.member_id: (d.state, d.reason) for d in Delivery.objects.filter(campaign=campaign)}


def _at_daily_cap(policy, member, now):
    policy.daily_cap = 1
    policy.save()
    MemberSendDay.objects.create(member=member, day=respect.local_day(now), count=1)


def test_a_member_at_the_daily_cap_still_gets_an_event_reminder(make_event, bob, audience, policy):  # noqa: F811
    a, _b = audience
    now = timezone.now()
    event = make_event(title="Night run", starts_at=now + dt.timedelta(hours=30), capacity=3)
    signups.sign_up(event=event, member_id=a[0].pk, actor=bob)
    later = now + dt.timedelta(hours=7)
    _at_daily_cap(policy, a[0], later)
    assert reminders.remind_due(now=later) == 1 and reminders.hand_over(now=later) == 1
    reminder = Campaign.objects.get()
    assert (reminder.purpose, reminder.expires_at) == (T, event.starts_at)
    assert sending.tick(now_fn=lambda: later).sent == 1
    assert OutboxMessage.objects.get().member_id == a[0].pk
    assert MemberSendDay.objects.get(member=a[0]).count == 1  # not counted either
    # The same hand-over as marketing is held to the cap: what the purpose changes.
    marketing = _notice([a[0]], purpose=M, key="k2", now=later)
    assert sending.tick(now_fn=lambda: later).sent == 0
    assert _rows(marketing) == {a[0].pk: ("suppressed", "cap_reached")}


def test_a_reminder_does_not_use_up_the_allowance_of_a_later_marketing_send(audience, policy, make_campaign):
    a, b = audience
    policy.daily_cap = 1
    policy.save()
    reminder = _notice([a[0], b[0]])
    assert sending.tick().sent == 2
    assert not MemberSendDay.objects.exists()
    campaign = make_campaign()  # marketing, to all five
    assert sending.tick().sent == 5
    assert set(_rows(campaign).values()) == {("sent", "")}
    assert set(MemberSendDay.objects.values_list("count", flat=True)) == {1}
    assert _rows(reminder) == {a[0].pk: ("sent", ""), b[0].pk: ("sent", "")}


def test_a_slot_given_back_is_only_a_counted_one(audience, policy):
    a, _b = audience
    now = timezone.now()
    MemberSendDay.objects.create(member=a[0], day=respect.local_day(now), count=1)
    respect.release([(a[0].pk, now)], counted=False)  # a transactional send that did not happen took none
    assert MemberSendDay.objects.get(member=a[0]).count == 1
    respect.release([(a[0].pk, now)])
    assert MemberSendDay.objects.get(member=a[0]).count == 0


def test_no_marketing_answer_is_reached_but_a_no_an_erasure_or_no_address_is_not(store_a, policy):
    def member(name, phone="+8613700000000"):
        return Member.objects.create(name=name, phone=phone, home_store=store_a)

    silent, out_sms, out_all, back_on_sms, erased, no_phone = (
        member("silent", "+8613700000001"), member("out sms", "+8613700000002"), member("out all", "+8613700000003"),
        member("sms yes", "+8613700000004"), member("erased", "+8613700000005"), member("no phone", ""))
    consent(out_sms, granted=False, channel="sms")
    consent(out_all, granted=False, channel="all")
    consent(back_on_sms, granted=False, channel="all")
    consent(back_on_sms, granted=True, channel="sms")  # this channel's answer is the most specific
    Member.objects.filter(pk=erased.pk).update(erased_at=timezone.now())
    everyone = [silent, out_sms, out_all, back_on_sms, erased, no_phone]
    reminder = _notice(everyone, channel="sms")
    assert _rows(reminder) == {
        silent.pk: ("pending", ""), back_on_sms.pk: ("pending", ""),
        out_sms.pk: ("suppressed", "opted_out"), out_all.pk: ("suppressed", "opted_out"),
        erased.pk: ("suppressed", "erased"), no_phone.pk: ("suppressed", "no_identity"),
    }
    # A marketing notice needs the consent: the silent member is not messaged.
    marketing = _notice(everyone, purpose=M, key="k2", channel="sms")
    assert _rows(marketing)[silent.pk] == ("suppressed", "no_consent")


def test_an_opt_out_after_the_hand_over_holds_at_claim_time(store_a, policy):
    silent = Member.objects.create(name="silent", phone="+8613700000001", home_store=store_a)
    later = Member.objects.create(name="later", phone="+8613700000002", home_store=store_a)
    reminder = _notice([silent, later])
    consent(later, granted=False)
    assert sending.tick().sent == 1
    assert _rows(reminder) == {silent.pk: ("sent", ""), later.pk: ("suppressed", "opted_out")}


def test_quiet_hours_defer_a_reminder_but_one_that_would_land_after_the_start_is_expired(audience, policy):
    a, _b = audience
    policy.quiet_start, policy.quiet_end = dt.time(22, 0), dt.time(8, 0)
    policy.save()
    night = _local(23, 0)
    early = _notice([a[0]], key="early", now=night, valid_until=_local(7, 30, days=1))  # before quiet hours end
    later = _notice([a[1]], key="later", now=night, valid_until=_local(10, 0, days=1))
    report = sending.tick(now_fn=lambda: night)
    assert (report.expired, report.deferred, report.sent) == (1, 1, 0)
    assert _rows(early) == {a[0].pk: ("suppressed", "expired")}
    assert _rows(later) == {a[1].pk: ("pending", "quiet_hours")}
    assert sending.tick(now_fn=lambda: _local(8, 1, days=1)).sent == 1
    assert _rows(later) == {a[1].pk: ("sent", "")}
    early.refresh_from_db()
    assert early.status == "done"


def test_a_reminder_not_sent_before_its_start_is_expired(audience, policy):
    a, _b = audience
    now = timezone.now()
    reminder = _notice(a[:2], now=now, valid_until=now + dt.timedelta(minutes=5))
    report = sending.tick(now_fn=lambda: now + dt.timedelta(minutes=6))
    assert (report.expired, report.sent) == (2, 0)
    assert set(_rows(reminder).values()) == {("suppressed", "expired")}


def test_a_notice_needs_a_known_purpose(audience, policy):
    with pytest.raises(ValueError, match="purpose"):
        _notice(audience[0], purpose="urgent")
    assert not Campaign.objects.exists()


def test_the_api_refuses_a_transactional_campaign(api_client, alice, everyone, audience, policy):
    api_client.force_authenticate(alice)
    body = {"name": "spring", "segment": everyone.pk, "channel": "outbox", "content": "Hi {name}"}
    refused = api_client.post("/api/v1/campaigns/", body | {"purpose": "transactional"}, format="json")
    assert refused.status_code == 400 and "purpose" in refused.json()["error"]["details"], refused.json()
    assert not Campaign.objects.exists()
    created = api_client.post("/api/v1/campaigns/", body | {"purpose": "marketing"}, format="json")
    assert created.status_code == 201 and created.json()["purpose"] == "marketing"
    patched = api_client.patch(f"/api/v1/campaigns/{created.json()['id']}/", {"purpose": "transactional"},
                               format="json")
    assert patched.status_code == 400 and "purpose" in patched.json()["error"]["details"], patched.json()
    assert Campaign.objects.get().purpose == M
    reminder = _notice(audience[0])
    shown = api_client.get(f"/api/v1/campaigns/{reminder.pk}/").json()
    assert (shown["purpose"], shown["kind"]) == ("transactional", "notice") and shown["expires_at"] is None


def test_the_form_writes_a_marketing_campaign_whatever_it_is_sent(client, alice, everyone, policy):
    client.force_login(alice)
    answer = client.post(reverse("campaign-create"), {
        "name": "spring", "segment": everyone.pk, "channel": "outbox", "content": "Hi {name}", "schedule": "now",
        "holdout_share": "0", "purpose": "transactional"})
    assert answer.status_code == 302
    assert Campaign.objects.get().purpose == M


def test_the_lists_filter_by_kind_and_purpose_and_the_dashboard_hides_notices(
        client, api_client, alice, audience, make_campaign):
    mass = make_campaign(name="Spring sale")
    reminder = _notice(audience[0])
    client.force_login(alice)

    def listed(**query):
        page = client.get(reverse("campaign-list"), query).content.decode()
        return {c.pk for c in (mass, reminder) if f'data-testid="campaign-{c.pk}"' in page}

    assert listed() == {mass.pk}
    assert listed(kind="notice") == {reminder.pk}
    assert listed(kind="all") == {mass.pk, reminder.pk}
    assert listed(kind="all", purpose="transactional") == {reminder.pk}
    assert listed(kind="mass") == {mass.pk}
    detail = client.get(reverse("campaign-detail", args=[reminder.pk])).content.decode()
    assert "Service message (transactional)" in detail

    api_client.force_authenticate(alice)

    def api(**query):
        answer = api_client.get("/api/v1/campaigns/", query)
        assert answer.status_code == 200, answer.json()
        return {row["id"] for row in answer.json()["results"]}

    assert api() == {mass.pk, reminder.pk}  # the API lists every kind unless asked
    assert api(kind="notice") == api(purpose="transactional") == {reminder.pk}
    assert api(kind="mass") == api(purpose="marketing") == {mass.pk}
    for name in ("kind", "purpose"):
        empty = api_client.get("/api/v1/campaigns/", {name: ""})
        assert empty.status_code == 400 and name in empty.json()["error"]["details"]
    unknown = api_client.get("/api/v1/campaigns/", {"kind": "transactional"})
    assert unknown.status_code == 400 and "kind" in unknown.json()["error"]["details"]
