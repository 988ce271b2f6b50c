"""The results summary of large campaigns (campaigns.services.figures): the live results' scenarios
answered again from the summary (attribution, refunds, clicks, the holdout, breakdowns, a store
manager's cut), the summary equal to the live figures, its freshness on the page and in the API,
and which summaries the beat run refreshes."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

import tests.campaigns.test_results as live
from campaigns import tasks
from campaigns.models import Campaign, CampaignFigures, CampaignFiguresRun
from campaigns.services import figures, results, sending
from members.models import Member
from scrm.celery import app as celery_app

pytestmark = pytest.mark.django_db

T0, DAY = live.T0, live.DAY
NOW = T0 + 60 * DAY


@pytest.fixture
def crowd(store_a):
    return live.make_members(store_a, 200, prefix="c")


@pytest.fixture
def summarised(settings, monkeypatch):
    """Every started campaign is read from its summary, summed afresh each time the scenario asks."""
    settings.SIYU_RESULTS_LIVE_MAX = 0

    def via_summary(campaign, actor, **kw):
        now = kw.pop("now", NOW)
        campaign.refresh_from_db()
        if campaign.started_at is not None:
            assert figures.refresh(campaign=campaign, now=now) is not None
        found = results.campaign_results(campaign=campaign, actor=actor, now=now)
        if campaign.started_at is not None:
            assert found.summarised and found.as_of == now
        return found

    monkeypatch.setattr(live, "figures", via_summary)


def test_the_window_and_refunds_from_the_summary(summarised, audience, make_campaign, alice, settings):
    live.test_orders_count_within_the_window_after_the_message_net_of_refunds(audience, make_campaign, alice, settings)


def test_the_latest_touch_from_the_summary(summarised, audience, make_campaign, alice):
    live.test_an_order_counts_for_the_latest_touch_only(audience, make_campaign, alice)


def test_a_click_and_the_links_from_the_summary(summarised, audience, make_campaign, alice):
    live.test_a_click_keeps_an_order_in_the_window_after_the_message_is_old(audience, make_campaign, alice)


def test_the_holdout_uplift_from_the_summary(summarised, crowd, make_campaign, alice, everyone):
    live.test_the_holdout_uplift_from_known_data(crowd, make_campaign, alice, everyone)


def test_an_open_window_from_the_summary(summarised, audience, make_campaign, alice):
    live.test_a_small_holdout_is_not_significant_yet(audience, make_campaign, alice)


def test_the_breakdowns_from_the_summary(summarised, audience, make_campaign, alice, carol, dave):
    live.test_the_funnel_by_reason_store_and_staff(audience, make_campaign, alice, carol, dave)


def test_a_store_managers_cut_from_the_summary(summarised, audience, make_campaign, alice, bob, store_b, api_client,
                                               dave):
    live.test_a_store_manager_sees_only_their_stores_members(audience, make_campaign, alice, bob, store_b,
                                                             api_client, dave)


def _comparable(found) -> dict:
    out = asdict(found)
    for name in ("campaign", "summarised", "as_of", "refreshing"):
        out.pop(name)
    return out


def test_the_summary_answers_what_the_live_query_answers(crowd, make_campaign, alice, bob, carol, store_b,
                                                          settings):
    live.consent(crowd[3], granted=False)
    # Store A's campaign, so its manager sees it too; some of its members moved to store B since.
    campaign = make_campaign(actor=bob, holdout_share=Decimal("0.3"),
                             content="Hi {name}: https://shop.example.com/a and https://shop.example.com/b")
    live.Delivery.objects.filter(campaign=campaign, member__in=crowd[:80]).update(staff=carol)
    sending.tick()
    live.sent_at(campaign, T0)
    for n, member in enumerate(crowd):
        if n % 7 == 0:
            live.click(campaign, member, T0 + (n % 5) * DAY)
        if n % 3 == 0:
            live.order(member, T0 + (n % 11) * DAY, 10 + n, refunded=5 if n % 2 else 0)
    live.order(crowd[1], T0 - DAY, 999)
    Member.objects.filter(pk__in=[m.pk for m in crowd[150:]]).update(home_store=store_b)

    settings.SIYU_RESULTS_LIVE_MAX = 10**9
    expected = {actor.username: results.campaign_results(campaign=campaign, actor=actor, now=NOW)
                for actor in (alice, bob)}
    assert not expected["alice"].summarised and expected["alice"].funnel.revenue > 0
    settings.SIYU_RESULTS_LIVE_MAX = 0
    run = figures.refresh(campaign=campaign, now=NOW)
    assert run.deliveries == 200 and run.window_end == campaign.started_at + 7 * DAY
    for actor in (alice, bob):
        found = results.campaign_results(campaign=campaign, actor=actor, now=NOW + DAY)  # read later: as of NOW
        assert found.summarised and found.as_of == NOW
        assert _comparable(found) == _comparable(expected[actor.username])
    assert expected["bob"].funnel.targeted == 150 and expected["alice"].uplift.held_out.converted > 0


def test_before_the_first_summary_the_page_and_the_api_say_so(audience, make_campaign, alice, api_client, settings):
    settings.SIYU_RESULTS_LIVE_MAX = 0
    campaign = make_campaign()
    sending.tick()
    live.sent_at(campaign, T0)
    found = results.campaign_results(campaign=campaign, actor=alice, now=NOW)
    assert found.summarised and found.as_of is None and found.funnel.targeted == 0 and found.uplift is None

    browser = Client()
    browser.force_login(alice)
    page = browser.get(f"/campaigns/{campaign.pk}/results/").content.decode()
    assert "its first figures are being made" in page and 'data-testid="results-cards"' not in page
    api_client.force_authenticate(alice)
    body = api_client.get(f"/api/v1/campaigns/{campaign.pk}/results/").json()
    assert body["summarised"] is True and body["as_of"] is None and body["funnel"]["targeted"] == 0

    figures.refresh(campaign=campaign, now=NOW)
    page = browser.get(f"/campaigns/{campaign.pk}/results/").content.decode()
    assert f"these figures are as of {NOW.astimezone(dt.timezone(dt.timedelta(hours=8))):%Y-%m-%d %H:%M}" in page
    assert 'data-testid="results-cards"' in page
    body = api_client.get(f"/api/v1/campaigns/{campaign.pk}/results/").json()
    assert body["summarised"] is True and body["as_of"] is not None and body["funnel"]["targeted"] == 5


def test_a_small_campaign_is_summed_live(audience, make_campaign, alice, settings):
    settings.SIYU_RESULTS_LIVE_MAX = 5  # the campaign reaches 5: not more than the limit
    campaign = make_campaign()
    found = results.campaign_results(campaign=campaign, actor=alice, now=NOW)
    assert not found.summarised and found.funnel.targeted == 5
    assert not figures.request_refresh(campaign=campaign)
    assert figures.due(now=NOW) == []


def test_asking_for_a_refresh_from_the_page_is_honoured_by_the_next_run(audience, make_campaign, alice, dave,
                                                                      settings, django_capture_on_commit_callbacks):
    settings.SIYU_RESULTS_LIVE_MAX = 0
    campaign = make_campaign()
    sending.tick()
    now = timezone.now()
    assert figures.due(now=now) == [campaign.pk]  # no summary yet
    figures.refresh(campaign=campaign, now=now - dt.timedelta(minutes=1))
    assert figures.due(now=now) == []

    browser = Client()
    browser.force_login(dave)  # store B's clerk: not their campaign
    assert browser.post(f"/campaigns/{campaign.pk}/results/refresh/").status_code == 404
    browser.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = browser.post(f"/campaigns/{campaign.pk}/results/refresh/")
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.pk}/results/"
    assert len(queued) == 1  # a task queued at commit (run here, in-process, by the next lines instead)
    run = CampaignFiguresRun.objects.get(campaign=campaign)
    assert run.requested_at > run.computed_at
    page = browser.get(f"/campaigns/{campaign.pk}/results/").content.decode()
    assert "A refresh is under way." in page
    assert figures.due(now=timezone.now()) == [campaign.pk]

    assert tasks.refresh_figures.apply().get() == [campaign.pk]  # the beat task, run for real
    assert figures.due(now=timezone.now()) == []
    assert tasks.refresh_campaign_figures.apply(args=[campaign.pk]).get() is True
    assert CampaignFigures.objects.filter(campaign=campaign).exists()
    assert "campaigns.tasks.refresh_figures" in {e["task"] for e in celery_app.conf.beat_schedule.values()}


def test_the_beat_run_refreshes_moving_campaigns_and_leaves_settled_ones(audience, make_campaign, alice, settings):
    settings.SIYU_RESULTS_LIVE_MAX = 0
    settings.SIYU_RESULTS_REFRESH_MINUTES = 15
    moving = make_campaign(name="moving")
    settled = make_campaign(name="settled")
    sending.tick()
    for campaign in (moving, settled):
        live.sent_at(campaign, T0)
    Campaign.objects.filter(pk=settled.pk).update(status="done", finished_at=T0 + DAY)
    Campaign.objects.filter(pk=moving.pk).update(status="sending")
    later = T0 + 30 * DAY
    for campaign in (moving, settled):
        figures.refresh(campaign=Campaign.objects.get(pk=campaign.pk), now=later)
    assert figures.due(now=later + dt.timedelta(minutes=10)) == []
    # 20 minutes on: the sending one is stale; the settled one's window closed before its summary.
    assert figures.due(now=later + dt.timedelta(minutes=20)) == [moving.pk]
    # A summary made while the window was open is refreshed once it has closed.
    figures.refresh(campaign=Campaign.objects.get(pk=settled.pk), now=T0 + 2 * DAY)
    assert set(figures.due(now=later + dt.timedelta(minutes=20))) == {moving.pk, settled.pk}


def test_a_summary_read_takes_a_fixed_number_of_queries(crowd, make_campaign, alice, settings,
                                                         django_assert_max_num_queries):
    settings.SIYU_RESULTS_LIVE_MAX = 0
    campaign = make_campaign(holdout_share=Decimal("0.2"), content="Hi: https://shop.example.com/a")
    sending.tick()
    live.sent_at(campaign, T0)
    for member in crowd[:50]:
        live.order(member, T0 + DAY, 10)
    figures.refresh(campaign=campaign, now=NOW)
    # snapshot size, run, funnel, store names, links, uplift
    with django_assert_max_num_queries(6):
        found = results.campaign_results(campaign=campaign, actor=alice, now=NOW)
    assert found.funnel.targeted == 200 and found.uplift.sent.converted + found.uplift.held_out.converted == 50
