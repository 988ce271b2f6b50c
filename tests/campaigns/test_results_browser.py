"""The results page in a real Chromium: an operator opens it from the campaign's page and reads the
funnel, the uplift against the holdout and the breakdowns; a store manager sees their store alone;
the page fits 1280 px and 390 px without sideways scrolling, its bars sized by the page's script."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.links import services as links
from campaigns.links import tokens
from campaigns.links.models import ShortLink
from campaigns.models import Campaign, Delivery
from campaigns.services import sending
from loyalty.orders.models import Order
from tests.browsing import DESKTOP, OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sent_with_orders(campaign, members):
    start = timezone.now() - dt.timedelta(days=2)
    Campaign.objects.filter(pk=campaign.pk).update(started_at=start)
    Delivery.objects.filter(campaign=campaign, state="sent").update(sent_at=start)
    link = ShortLink.objects.get(campaign=campaign)
    for n, member in enumerate(members):
        links.follow(code=link.code, token=tokens.make(link.code, member.pk), user_agent="",
                     now=start + dt.timedelta(hours=1))
        Order.objects.create(channel="pos", external_id=f"B{n}", member=member, store=member.home_store,
                             total_amount=Decimal("128.50"), placed_at=start + dt.timedelta(hours=2))


def test_the_results_page_at_desktop_and_phone_sizes(browser, live_server, alice, bob, audience, make_campaign, shot):
    a, b = audience
    long_link = "https://shop.example.com/spring/" + "very-long-path-segment-" * 6 + "?utm_source=wecom"
    campaign = make_campaign(name="Spring tasting", content=f"Hi {{name}}: {long_link}",
                             holdout_share=Decimal("0.2"))
    sending.tick()
    sent = [d.member for d in Delivery.objects.filter(campaign=campaign, state="sent").select_related("member")]
    # The holdout is drawn from a hash of the campaign's id: with another id another share of the five is
    # held out, so the figures are those of the members who were sent and clicked (two, or one).
    clicked = sent[:2]
    assert clicked, "nobody sent"
    _sent_with_orders(campaign, clicked)

    ctx, page = login(browser, live_server, "alice", **DESKTOP)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.get_by_test_id("campaign-results-link").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/campaigns/{campaign.pk}/results/")
    assert page.get_by_test_id("figure-targeted").inner_text().endswith("5")
    assert page.get_by_test_id("figure-clicked").inner_text().endswith(str(len(clicked)))
    assert page.get_by_test_id("figure-converted").inner_text().endswith(str(len(clicked)))
    assert page.get_by_test_id("figure-revenue").inner_text().endswith(f"{Decimal('128.50') * len(clicked):.2f}")
    assert page.get_by_test_id("uplift-verdict").get_attribute("data-verdict") == "too_few"
    assert "Not significant yet" in page.get_by_test_id("uplift-verdict").inner_text()
    assert page.get_by_test_id("by-store-SH01").is_visible() and page.get_by_test_id("by-store-BJ01").is_visible()
    assert long_link in page.get_by_test_id("results-links").inner_text()
    # The bars are drawn: the targeted one is full width, the others in proportion.
    widths = page.eval_on_selector_all("[data-testid=results-funnel] .bar", "bars => bars.map(b => b.offsetWidth)")
    assert widths[0] > 0 and max(widths) == widths[0]
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "campaigns-results-1280")
    ctx.close()

    ctx, page = login(browser, live_server, "alice", **PHONE)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/results/")
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("results-uplift").is_visible()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "campaigns-results-390")
    ctx.close()


def test_a_store_managers_results_page_shows_their_store(browser, live_server, bob, audience, make_campaign, shot):
    a, _b = audience
    campaign = make_campaign(actor=bob, name="SH01 weekend", content="Hi {name}: https://shop.example.com/w")
    sending.tick()
    _sent_with_orders(campaign, a[:1])
    ctx, page = login(browser, live_server, "bob", **PHONE)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/results/")
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("results-store-only").is_visible()
    assert page.get_by_test_id("by-store-SH01").is_visible() and page.get_by_test_id("by-store-BJ01").count() == 0
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "campaigns-results-manager-390")
    ctx.close()
