"""The campaign screens per role: the list is scoped (a store manager sees their store's campaigns),
store staff write drafts but are offered and allowed no approve or send, each action goes through
the services, the service's errors show under the fields, the detail words the reasons and pages
its deliveries by member, and the send policy page is the operators'."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Delivery, SendPolicy
from campaigns.services import sending
from tests.campaigns.conftest import consent

pytestmark = pytest.mark.django_db


def _draft(client, segment, **extra):
    body = {"name": "spring", "segment": segment.pk, "channel": "outbox", "content": "Hi {name}",
            "schedule": "now", "holdout_share": "0"} | extra
    return client.post(reverse("campaign-create"), body)


def test_a_store_manager_sees_only_their_store_and_filters_by_status(client, alice, bob, make_campaign, store_a,
                                                                   store_b, audience):
    brand = make_campaign(name="brand-wide", start=False)
    ours = make_campaign(actor=bob, name="ours", start=False)
    theirs = Campaign.objects.create(name="theirs", store=store_b, channel="outbox", content="x")
    client.force_login(bob)
    page = client.get(reverse("campaign-list")).content.decode()
    assert f'data-testid="campaign-{ours.pk}"' in page
    assert f'data-testid="campaign-{theirs.pk}"' not in page and f'data-testid="campaign-{brand.pk}"' not in page
    assert client.get(reverse("campaign-detail", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("campaign-approve", args=[theirs.pk])).status_code == 404

    client.force_login(alice)
    every = client.get(reverse("campaign-list")).content.decode()
    assert all(f'data-testid="campaign-{c.pk}"' in every for c in (brand, ours, theirs))
    by_store = client.get(reverse("campaign-list"), {"store": store_b.code}).content.decode()
    assert f'data-testid="campaign-{theirs.pk}"' in by_store and f'data-testid="campaign-{ours.pk}"' not in by_store
    sent = make_campaign(name="sent")
    by_status = client.get(reverse("campaign-list"), {"status": "sending"}).content.decode()
    assert f'data-testid="campaign-{sent.pk}"' in by_status and f'data-testid="campaign-{brand.pk}"' not in by_status
    assert 'hx-trigger="every 3s"' in by_status  # a sending campaign keeps the list polling


def test_list_counts_deliveries_by_state(client, alice, audience, make_campaign):
    campaign = make_campaign()
    sending.tick()
    client.force_login(alice)
    page = client.get(reverse("campaign-list")).content.decode()
    row = page.split(f'data-testid="campaign-{campaign.pk}"')[1].split("</tr>")[0]
    assert '<td class="num">5</td>' in row  # five recipients, five sent


def test_store_staff_write_a_draft_for_their_store_but_cannot_approve_or_send(client, carol, everyone, store_a,
                                                                           audience, policy):
    client.force_login(carol)
    answer = _draft(client, everyone)
    assert answer.status_code == 302, answer.content.decode()
    campaign = Campaign.objects.get()
    assert campaign.store == store_a and campaign.status == "draft"
    page = client.get(reverse("campaign-detail", args=[campaign.pk])).content.decode()
    assert 'data-testid="action-approve"' not in page and 'data-testid="action-send"' not in page
    refused = client.post(reverse("campaign-approve", args=[campaign.pk]))
    assert refused.status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert client.post(reverse("campaign-send", args=[campaign.pk])).status_code == 403
    assert not Delivery.objects.exists()


def test_an_operator_approves_sends_pauses_resumes_and_cancels(client, alice, audience, make_campaign):
    client.force_login(alice)
    campaign = make_campaign(start=False)
    detail = reverse("campaign-detail", args=[campaign.pk])
    page = client.get(detail).content.decode()
    assert 'data-testid="action-approve"' in page and 'data-testid="action-send"' not in page
    assert 'data-testid="action-cancel"' in page and "data-confirm-danger" in page

    assert client.post(reverse("campaign-approve", args=[campaign.pk])).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "approved"
    page = client.get(detail).content.decode()
    assert 'data-testid="action-send"' in page and 'data-confirm="Send this campaign?"' in page

    assert client.post(reverse("campaign-send", args=[campaign.pk])).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "sending" and Delivery.objects.filter(campaign=campaign).count() == 5
    page = client.get(detail).content.decode()
    assert 'hx-trigger="every 3s"' in page and 'data-testid="action-pause"' in page

    client.post(reverse("campaign-pause", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    client.post(reverse("campaign-resume", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == "sending"
    client.post(reverse("campaign-cancel", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
    assert set(Delivery.objects.filter(campaign=campaign).values_list("reason", flat=True)) == {"cancelled"}
    page = client.get(detail).content.decode()
    assert "Campaign cancelled" in page and 'data-testid="action-' not in page
    assert 'hx-trigger="every 3s"' not in page


def test_a_refused_action_comes_back_as_a_message(client, alice, audience, make_campaign):
    campaign = make_campaign()  # sending: it cannot be approved again as a draft, nor resumed
    client.force_login(alice)
    detail = reverse("campaign-detail", args=[campaign.pk])
    answer = client.post(reverse("campaign-resume", args=[campaign.pk]), HTTP_REFERER="http://testserver" + detail)
    assert answer.status_code == 302  # resume of a sending campaign is a retry: nothing changes
    sending.tick()
    campaign.refresh_from_db()
    assert campaign.status == "done"
    answer = client.post(reverse("campaign-cancel", args=[campaign.pk]), HTTP_REFERER="http://testserver" + detail,
                         follow=True)
    assert "cannot be cancelled" in answer.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == "done"


def test_the_services_errors_show_under_their_fields(client, alice, everyone, store_a, policy):
    client.force_login(alice)
    answer = _draft(client, everyone, content="Hi {nickname}")
    assert answer.status_code == 400
    page = answer.content.decode()
    field = page.split('data-testid="field-content"')[1].split("</label>")[0]
    assert "Unknown personal field(s): {nickname}" in field
    assert "{name}, {tier}, {points}" in field  # the fields one may use, under the field

    past = (timezone.localtime() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page = _draft(client, everyone, schedule="later", scheduled_at=past).content.decode()
    assert "The schedule is in the past." in page.split('data-testid="field-scheduled_at"')[1].split("</label>")[0]
    page = _draft(client, everyone, schedule="later").content.decode()
    assert "Choose when to send it." in page.split('data-testid="field-scheduled_at"')[1].split("</label>")[0]
    page = _draft(client, everyone, content="x" * 70000).content.decode()
    assert "bytes; this channel takes at most" in page.split('data-testid="field-content"')[1].split("</label>")[0]
    page = _draft(client, everyone, store=store_a.pk, holdout_share="0.7").content.decode()
    assert "error" in page.split('data-testid="field-holdout_share"')[1].split("</label>")[0]
    assert not Campaign.objects.exists()


def test_a_store_manager_is_offered_only_usable_segments(client, bob, alice, store_b, everyone):
    from members.segments import services as segment_services

    other = segment_services.create_segment(actor=alice, name="store b only", definition={"all": []}, store=store_b)
    client.force_login(bob)
    page = client.get(reverse("campaign-create")).content.decode()
    assert f'value="{everyone.pk}"' in page and f'value="{other.pk}"' not in page
    assert 'data-testid="field-store"' not in page  # a store's campaign is the manager's store's
    assert _draft(client, other).status_code == 400


def test_a_scheduled_campaign_shows_its_time_and_polls(client, alice, audience, make_campaign):
    at = timezone.now() + dt.timedelta(days=1)
    campaign = make_campaign(scheduled_at=at)
    assert campaign.status == "scheduled"
    client.force_login(alice)
    page = client.get(reverse("campaign-detail", args=[campaign.pk])).content.decode()
    assert timezone.localtime(at).strftime("%Y-%m-%d %H:%M") in page and 'hx-trigger="every 3s"' in page
    partial = client.get(reverse("campaign-detail", args=[campaign.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert partial.startswith('<div id="campaign-live"') and "<html" not in partial


def test_the_detail_words_reasons_and_pages_deliveries_by_member(client, alice, audience, make_campaign, members):
    a, _b = audience
    consent(a[0], granted=False)
    campaign = make_campaign()
    client.force_login(alice)
    detail = reverse("campaign-detail", args=[campaign.pk])
    page = client.get(detail).content.decode()
    assert 'data-testid="reason-opted_out"' in page and "Opted out" in page
    suppressed = client.get(detail, {"state": "suppressed"}).content.decode()
    assert f'data-testid="delivery-{a[0].pk}"' in suppressed and f'data-testid="delivery-{a[1].pk}"' not in suppressed
    by_reason = client.get(detail, {"reason": "opted_out"}).content.decode()
    assert f'data-testid="delivery-{a[0].pk}"' in by_reason

    from campaigns import views

    ids = sorted(Delivery.objects.filter(campaign=campaign).values_list("member_id", flat=True))
    original, views.DELIVERY_PAGE = views.DELIVERY_PAGE, 2
    try:
        first = client.get(detail).content.decode()
        assert f"after={ids[1]}" in first and f'data-testid="delivery-{ids[2]}"' not in first
        second = client.get(detail, {"after": ids[1]}).content.decode()
        assert f'data-testid="delivery-{ids[2]}"' in second and f'data-testid="delivery-{ids[0]}"' not in second
        last = client.get(detail, {"after": ids[3]}).content.decode()
        assert 'data-testid="deliveries-next"' not in last
    finally:
        views.DELIVERY_PAGE = original
    bad = client.get(detail, {"state": "nonsense"})
    assert bad.status_code == 200 and 'data-testid="delivery-' not in bad.content.decode()


@pytest.mark.parametrize("who, status", [("alice", 200), ("bob", 403), ("carol", 403)])
def test_the_send_policy_page_is_for_operators(client, request, who, status, policy):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("campaign-policy")).status_code == status
    answer = client.post(reverse("campaign-policy"), {"daily_cap": 1, "weekly_cap": 2, "monthly_cap": 3,
                                                      "max_attempts": 4})
    assert answer.status_code == (302 if status == 200 else 403)
    assert SendPolicy.objects.get().max_attempts == (4 if status == 200 else 3)


def test_the_send_policy_page_shows_the_services_errors_at_the_field(client, alice, policy):
    client.force_login(alice)
    answer = client.post(reverse("campaign-policy"), {"daily_cap": 5, "weekly_cap": 2, "monthly_cap": 9,
                                                      "max_attempts": 3, "quiet_start": "22:00"})
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "cannot be above" in page.split('data-testid="field-daily_cap"')[1].split("</label>")[0]
    assert "both a start and an end" in page.split('data-testid="field-quiet_end"')[1].split("</label>")[0]
    assert SendPolicy.objects.get().daily_cap == 0
    ok = client.post(reverse("campaign-policy"), {"daily_cap": 1, "weekly_cap": 2, "monthly_cap": 9, "max_attempts": 3,
                                                  "quiet_start": "22:00", "quiet_end": "08:00"})
    assert ok.status_code == 302
    assert SendPolicy.objects.get().quiet_end == dt.time(8, 0)


def test_the_sidebar_shows_campaigns_to_every_role_and_the_policy_to_operators(client, alice, carol):
    client.force_login(carol)
    page = client.get(reverse("campaign-list")).content.decode()
    assert 'href="/campaigns/"' in page and 'href="/campaigns/policy/"' not in page
    client.force_login(alice)
    assert 'href="/campaigns/policy/"' in client.get(reverse("campaign-list")).content.decode()


def test_the_demo_sends_one_campaign_and_leaves_a_draft_and_a_scheduled_one(members, audience, policy):
    from campaigns import demo

    summary = demo.seed()
    sent = Campaign.objects.get(name=demo.SENT)
    assert sent.status == "done", summary
    assert Delivery.objects.filter(campaign=sent, state="sent").count() == 5
    assert Campaign.objects.get(name=demo.DRAFT).status == "draft"
    scheduled = Campaign.objects.get(name=demo.SCHEDULED)
    assert scheduled.status == "scheduled" and scheduled.scheduled_at > timezone.now()
    demo.seed()
    assert Campaign.objects.count() == 3 and Delivery.objects.count() == 5
