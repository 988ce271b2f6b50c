"""Editing a campaign (PATCH /api/v1/campaigns/{id}/ and the edit page): a draft or an approved one
(which goes back to draft, its approval cleared, as the page says), checked as a new one is, a
clear 409 naming the status otherwise, a store manager only their store's. Test sends to staff
(POST and GET /api/v1/campaigns/{campaign_id}/test-sends/ and the campaign page's button) against
the real local servers: a WeCom app message (message/send) on the local WeCom server, a mail on the
local SMTP server, an SMS on the local SMS provider; no delivery, no cap slot; refusals name what
is missing; at most 20 a day; idempotent with an Idempotency-Key."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.fake import sms as fake_sms
from campaigns.fake import smtp as fake_smtp
from campaigns.models import Campaign, Delivery, MemberSendDay, OutboxMessage, StaffTestSend
from campaigns.services import test_sends
from members.segments import services as segment_services
from tests.campaigns.wecom import STAFF, TEXT

pytestmark = pytest.mark.django_db

FROM = "思语巧克力 <news@brand.example>"
SMS_KEY = "test-sms-key-0123456789"


def _patch(client, campaign, body):
    return client.patch(f"/api/v1/campaigns/{campaign.pk}/", body, format="json")


# --- editing -----------------------------------------------------------------------------------------


def test_a_draft_is_edited_and_checked_as_a_new_campaign_is(api_client, alice, make_campaign, audience):
    draft = make_campaign(start=False)
    api_client.force_authenticate(alice)
    answer = _patch(api_client, draft, {"name": "summer", "content": "Hello {name}, {points} points"})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["name"] == "summer" and answer.json()["status"] == "draft"
    draft.refresh_from_db()
    assert draft.content == "Hello {name}, {points} points"

    for body, field in (
        ({"content": "Hi {nickname}"}, "content"),
        ({"content": "长" * 1400}, "content"),  # 4,200 bytes: over the outbox's 4,000
        ({"scheduled_at": (timezone.now() - dt.timedelta(hours=2)).isoformat()}, "scheduled_at"),
        ({"segment": 999_999}, "segment"),
        ({"channel": "pigeon"}, "channel"),
        ({"colour": "red"}, "colour"),
        ({"recurrence": {"frequency": "weekly", "time": "09:00"}}, "recurrence.weekdays"),
    ):
        refused = _patch(api_client, draft, body)
        assert refused.status_code == 400, (body, refused.json())
        details = refused.json()["error"]["details"]
        assert field in details or field.split(".")[0] in details, (body, details)
    draft.refresh_from_db()
    assert draft.name == "summer" and draft.content == "Hello {name}, {points} points" and not draft.repeat


def test_a_draft_becomes_a_weekly_series_and_back(api_client, alice, make_campaign, audience):
    draft = make_campaign(start=False)
    api_client.force_authenticate(alice)
    weekly = _patch(api_client, draft, {"recurrence": {"frequency": "weekly", "weekdays": [0, 4], "time": "10:30",
                                                       "count": 4}})
    assert weekly.status_code == 200, weekly.json()
    assert weekly.json()["recurrence"] | {"start": None} == {
        "frequency": "weekly", "weekdays": [0, 4], "day": None, "time": "10:30", "start": None, "until": None,
        "count": 4}
    one_off = _patch(api_client, draft, {"recurrence": None})
    assert one_off.json()["recurrence"] is None


def test_editing_an_approved_campaign_returns_it_to_draft(api_client, alice, make_campaign, audience):
    campaign = make_campaign(start=False)
    api_client.force_authenticate(alice)
    api_client.post(f"/api/v1/campaigns/{campaign.pk}/approve/")
    campaign.refresh_from_db()
    assert campaign.status == "approved" and campaign.approved_by == alice
    answer = _patch(api_client, campaign, {"content": "New text"})
    assert answer.status_code == 200 and answer.json()["status"] == "draft"
    campaign.refresh_from_db()
    assert campaign.approved_by is None and campaign.approved_by_label == ""


@pytest.mark.parametrize("status", ["scheduled", "sending", "paused", "done", "cancelled"])
def test_any_other_status_is_a_409_naming_it(api_client, alice, make_campaign, audience, status):
    campaign = make_campaign(start=False)
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    api_client.force_authenticate(alice)
    answer = _patch(api_client, campaign, {"name": "changed"})
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["details"]["status"] == [status]
    assert Campaign(status=status).get_status_display() in error["message"]
    campaign.refresh_from_db()
    assert campaign.name == "spring"


def test_a_store_manager_edits_only_their_stores_campaigns(api_client, alice, bob, make_campaign, audience,
                                                            store_b):
    brand = make_campaign(start=False, name="brand")
    ours = make_campaign(actor=bob, start=False, name="ours")
    theirs_segment = segment_services.create_segment(actor=alice, name="b only", definition={"all": []},
                                                     store=store_b)
    api_client.force_authenticate(bob)
    assert _patch(api_client, brand, {"name": "x"}).status_code == 404
    assert _patch(api_client, ours, {"name": "ours too"}).status_code == 200
    refused = _patch(api_client, ours, {"segment": theirs_segment.pk})
    assert refused.status_code == 400 and "segment" in refused.json()["error"]["details"]
    assert _patch(api_client, ours, {"store": "BJ01"}).status_code == 400  # the store never changes


def test_the_edit_page_saves_and_says_an_approval_is_cleared(client, alice, make_campaign, audience):
    campaign = make_campaign(start=False)
    client.force_login(alice)
    page = client.get(reverse("campaign-edit", args=[campaign.pk])).content.decode()
    assert 'value="spring"' in page and 'data-testid="approval-notice"' not in page
    detail = client.get(reverse("campaign-detail", args=[campaign.pk])).content.decode()
    assert 'data-testid="campaign-edit-link"' in detail

    client.post(reverse("campaign-approve", args=[campaign.pk]))
    page = client.get(reverse("campaign-edit", args=[campaign.pk])).content.decode()
    assert 'data-testid="approval-notice"' in page and "clears the approval" in page
    body = {"name": "autumn", "segment": campaign.segment_id, "channel": "outbox", "content": "Hi {name}!",
            "schedule": "now", "holdout_share": "0"}
    saved = client.post(reverse("campaign-edit", args=[campaign.pk]), body, follow=True)
    assert "is a draft again" in saved.content.decode()
    campaign.refresh_from_db()
    assert campaign.name == "autumn" and campaign.status == "draft" and campaign.approved_by is None

    bad = client.post(reverse("campaign-edit", args=[campaign.pk]), body | {"content": "Hi {nick}"})
    assert bad.status_code == 400 and "Unknown personal field" in bad.content.decode()

    weekly = client.post(reverse("campaign-edit", args=[campaign.pk]), body | {
        "schedule": "repeat", "repeat": "weekly", "repeat_time": "09:15"})
    assert weekly.status_code == 400 and "at least one weekday" in weekly.content.decode()
    client.post(reverse("campaign-edit", args=[campaign.pk]), body | {
        "schedule": "repeat", "repeat": "weekly", "repeat_weekdays": ["1", "3"], "repeat_time": "09:15"})
    campaign.refresh_from_db()
    assert campaign.repeat == "weekly" and campaign.repeat_weekdays == [1, 3]
    assert campaign.repeat_time == dt.time(9, 15)


def test_the_edit_page_of_a_sending_campaign_is_a_409_and_another_stores_a_404(client, alice, bob, make_campaign,
                                                                            audience):
    sending_ = make_campaign()
    client.force_login(alice)
    answer = client.get(reverse("campaign-edit", args=[sending_.pk]))
    assert answer.status_code == 409 and "Sending" in answer.content.decode()
    assert 'data-testid="campaign-edit-link"' not in client.get(
        reverse("campaign-detail", args=[sending_.pk])).content.decode()
    brand = make_campaign(start=False, name="brand")
    client.force_login(bob)
    assert client.get(reverse("campaign-edit", args=[brand.pk])).status_code == 404
    assert client.post(reverse("campaign-edit", args=[brand.pk]), {"name": "x"}).status_code == 404


# --- test sends ------------------------------------------------------------------------------------


def _test_send(client, campaign, body, key=None):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/campaigns/{campaign.pk}/test-sends/", body, format="json", **extra)


@pytest.fixture
def wecom_server(make_corp, wstaff, settings):
    settings.WECOM_AGENT_ID = "1000002"
    return make_corp(staff=STAFF, contacts_per_staff=2, shared_ratio=0)


def test_a_wecom_test_send_is_an_app_message_to_the_staff_members_userid(api_client, alice, carol, bob,
                                                                          wecom_server, make_campaign, audience):
    campaign = make_campaign(channel="wecom", content=TEXT, start=False)
    api_client.force_authenticate(alice)
    answer = _test_send(api_client, campaign, {"recipients": [carol.pk, bob.pk]}, key="try-1")
    assert answer.status_code == 201, answer.json()
    by_name = {row["recipient"]: row for row in answer.json()["results"]}
    assert by_name["carol"]["outcome"] == "sent" and by_name["carol"]["address"] == "carol"
    assert by_name["carol"]["provider_message_id"]
    assert by_name["bob"]["outcome"] == "refused" and "no WeCom account" in by_name["bob"]["error"]
    (message,) = wecom_server.app_messages
    assert message["touser"] == ["carol"] and message["content"] == TEXT and message["agentid"] == 1000002
    assert answer.json()["left_today"] == test_sends.DAILY_LIMIT - 2

    again = _test_send(api_client, campaign, {"recipients": [carol.pk, bob.pk]}, key="try-1")
    assert again.json() == answer.json() and len(wecom_server.app_messages) == 1
    listed = api_client.get(f"/api/v1/campaigns/{campaign.pk}/test-sends/").json()["results"]
    assert [row["recipient"] for row in listed] == ["bob", "carol"]  # newest first
    # Never a delivery, never a cap slot, nothing in the results.
    assert not Delivery.objects.filter(campaign=campaign).exists() and not MemberSendDay.objects.exists()
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_a_wecom_test_send_without_the_apps_id_names_the_setting(api_client, alice, carol, wecom_server, settings,
                                                                  make_campaign, audience):
    campaign = make_campaign(channel="wecom", content=TEXT, start=False)
    settings.WECOM_AGENT_ID = ""
    api_client.force_authenticate(alice)
    row = _test_send(api_client, campaign, {"recipients": [carol.pk]}).json()["results"][0]
    assert row["outcome"] == "refused" and "WECOM_AGENT_ID" in row["error"]
    assert wecom_server.app_messages == []


@pytest.fixture
def mailbox(settings):
    running = fake_smtp.start(fake_smtp.Mailbox())
    settings.SIYU_SMTP_HOST, settings.SIYU_SMTP_PORT = running.host, running.port
    settings.SIYU_SMTP_SECURITY, settings.SIYU_SMTP_FROM = "none", FROM
    settings.SIYU_SMTP_USER, settings.SIYU_SMTP_PASSWORD = "", ""
    settings.SIYU_SMTP_TIMEOUT, settings.SIYU_SMTP_RATE = 2, 200
    try:
        yield running.mailbox
    finally:
        running.stop()


def test_an_email_test_send_reaches_the_staff_users_address_with_a_sample_members_fields(
        api_client, alice, carol, dave, mailbox, make_campaign, audience):
    a, _b = audience
    carol.email = "Carol@Brand.example"
    carol.save()
    campaign = make_campaign(channel="email", content="Spring news\nDear {name}, you have {points} points.",
                             start=False)
    api_client.force_authenticate(alice)
    answer = _test_send(api_client, campaign, {"recipients": [carol.pk, dave.pk], "sample_member": a[0].pk})
    rows = {row["recipient"]: row for row in answer.json()["results"]}
    assert rows["carol"]["outcome"] == "sent" and rows["carol"]["address"] == "carol@brand.example"
    assert rows["dave"]["outcome"] == "refused" and "no email address" in rows["dave"]["error"]
    (mail,) = mailbox.mails
    assert mail.rcpt_tos == ["carol@brand.example"]
    assert mail.message["Subject"] == "Spring news"
    assert f"Dear {a[0].name}, you have 0 points." in mail.message.get_content()
    assert mail.message_id.startswith("<siyu-test-")  # never a member's delivery key

    placeholder = _test_send(api_client, campaign, {"recipients": [carol.pk]}).json()["results"][0]
    assert "(member's name)" in placeholder["text"]


def test_an_sms_test_send_goes_to_a_known_staff_phone_or_says_it_is_missing(api_client, alice, carol, dave, settings,
                                                                             make_campaign, audience):
    running = fake_sms.start(fake_sms.Provider(key=SMS_KEY))
    settings.SIYU_SMS_URL, settings.SIYU_SMS_KEY = running.url, SMS_KEY
    settings.SIYU_SMS_TIMEOUT, settings.SIYU_SMS_RATE = 2, 200
    try:
        carol.phone = "+8613800000042"
        carol.save()
        campaign = make_campaign(channel="sms", content="{name}，春季新品到店", start=False)
        api_client.force_authenticate(alice)
        rows = {r["recipient"]: r for r in _test_send(api_client, campaign,
                                                      {"recipients": [carol.pk, dave.pk]}).json()["results"]}
        assert rows["carol"]["outcome"] == "sent"
        assert rows["dave"]["outcome"] == "refused" and "no phone number" in rows["dave"]["error"]
        (message,) = running.provider.messages
        assert message.to == "+8613800000042" and message.client_ref.startswith("siyu-test-")
        assert message.text == "(member's name)，春季新品到店"
    finally:
        running.stop()


def test_outbox_test_sends_are_recorded_bounded_per_day_and_scoped(api_client, alice, bob, carol, dave,
                                                                    make_campaign, audience, store_b):
    a, b = audience
    campaign = make_campaign(actor=bob, start=False)
    api_client.force_authenticate(bob)
    row = _test_send(api_client, campaign, {"recipients": [carol.pk]}).json()["results"][0]
    assert row["outcome"] == "recorded" and row["text"] == "Hi (member's name)"
    assert not OutboxMessage.objects.exists()
    # Scoped: another store's staff member or member is refused, another store's campaign is not found.
    refused = _test_send(api_client, campaign, {"recipients": [dave.pk]})
    assert refused.status_code == 400 and "recipients" in refused.json()["error"]["details"]
    refused = _test_send(api_client, campaign, {"recipients": [carol.pk], "sample_member": b[0].pk})
    assert refused.status_code == 400 and "sample_member" in refused.json()["error"]["details"]
    brand = make_campaign(start=False, name="brand")
    assert _test_send(api_client, brand, {"recipients": [carol.pk]}).status_code == 404
    assert api_client.get(f"/api/v1/campaigns/{brand.pk}/test-sends/").status_code == 404
    assert _test_send(api_client, campaign, {"recipients": [carol.pk], "extra": 1}).status_code == 400

    # Bounded: the day's limit, counted per recipient.
    for _n in range(test_sends.DAILY_LIMIT - 1 - 1):
        assert _test_send(api_client, campaign, {"recipients": [carol.pk]}).status_code == 201
    over = _test_send(api_client, campaign, {"recipients": [carol.pk, bob.pk]})
    assert over.status_code == 409 and over.json()["error"]["code"] == "test_send_limit"
    assert _test_send(api_client, campaign, {"recipients": [bob.pk]}).status_code == 201
    assert StaffTestSend.objects.filter(campaign=campaign).count() == test_sends.DAILY_LIMIT
    assert _test_send(api_client, campaign, {"recipients": [bob.pk]}).status_code == 409


def test_the_campaign_page_sends_a_test_and_lists_it(client, bob, carol, make_campaign, audience):
    campaign = make_campaign(actor=bob, start=False)
    client.force_login(bob)
    page = client.get(reverse("campaign-detail", args=[campaign.pk])).content.decode()
    assert 'data-testid="test-send-form"' in page and f'value="{carol.pk}"' in page
    answer = client.post(reverse("campaign-test-send", args=[campaign.pk]), {"recipients": [carol.pk]}, follow=True)
    text = answer.content.decode()
    assert "Test send to Carol" in text and 'data-outcome="recorded"' in text
    assert StaffTestSend.objects.get().sent_by == bob
