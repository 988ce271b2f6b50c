"""The cockpit in a real browser: charts drawn, a figure opens the member list with the same count,
and the store manager's cockpit fits a 390 px phone without sideways scrolling."""

from __future__ import annotations

import pytest

from tests.campaigns.conftest import everyone, make_campaign, policy  # noqa: F401 - the campaigns' fixtures
from tests.insights.test_cockpit import shop  # noqa: F401 - the same hand-built shop
from tests.insights.test_cockpit_activity import world  # noqa: F401 - campaigns, tasks, groups, KOC, churn
from tests.insights.test_cockpit_campaigns import two_campaigns  # noqa: F401 - two campaigns

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, url, username):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")


def _drawn(page):
    page.goto(page.url)
    page.wait_for_selector("[data-cockpit-chart][data-drawn='1'] canvas")
    boxes = page.locator("[data-cockpit-chart]")
    assert boxes.count() >= 4
    assert page.locator("[data-cockpit-chart] canvas").count() == boxes.count()


@pytest.mark.parametrize("width", [1366, 390])
def test_cockpit_charts_and_drill_down(browser, live_server, bob, shop, shot, width):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _login(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/insights/cockpit/?days=30")
    _drawn(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"insights-cockpit-{width}")
    link = page.locator("[data-testid=drill-buyers]")
    expected = link.get_attribute("data-members")
    assert expected == "3"
    link.click()
    page.wait_for_load_state("networkidle")
    assert "/members/" in page.url
    assert page.inner_text("[data-testid=audience-count]").startswith(f"{expected} ")
    context.close()


def test_a_chart_point_opens_its_members(browser, live_server, alice, shop):  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _login(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/insights/cockpit/?days=30")
    page.wait_for_selector("[data-cockpit-chart='funnel_now'][data-drawn='1'] canvas")
    chart = page.locator("[data-cockpit-chart='funnel_now']")
    chart.scroll_into_view_if_needed()
    # The "aware" bar (4 members): ECharts says where its top is; a click just inside it.
    x, y = page.evaluate("""(el) => window.echarts.getInstanceByDom(el).convertToPixel({seriesIndex: 0}, [0, 4])""",
                         chart.element_handle())
    box = chart.bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y + 10)
    page.wait_for_url("**/members/**")
    assert page.inner_text("[data-testid=audience-count]").startswith("4 ")
    context.close()


@pytest.mark.parametrize("width", [1366, 390])
def test_the_store_page_on_a_phone_and_a_desktop(browser, live_server, bob, shop, shot, width):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _login(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/insights/cockpit/?days=30")
    page.click("[data-testid=page-store]")
    page.wait_for_selector("[data-testid=section-store_resources]")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"insights-store-{width}")
    link = page.locator("[data-testid=drill-store_potential]")
    expected = link.get_attribute("data-members")
    assert expected == "1"  # a4: store A's one member who never bought
    link.click()
    page.wait_for_load_state("networkidle")
    assert page.inner_text("[data-testid=audience-count]").startswith(f"{expected} ")
    context.close()


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
@pytest.mark.parametrize("width", [1366, 390])
def test_every_section_fits_in_both_languages(browser, live_server, alice, two_campaigns, shot, width,  # noqa: F811
                                             locale):
    """The operator's whole cockpit (every section filled) at a desktop and a phone, in English and
    Chinese: no sideways scrolling, every chart drawn, a campaign total opens its members."""
    context = browser.new_context(viewport={"width": width, "height": 900}, locale=locale)
    page = context.new_page()
    _login(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/insights/cockpit/?days=30")
    page.wait_for_selector("[data-cockpit-chart='campaign_funnel'][data-drawn='1'] canvas")
    assert page.locator("[data-cockpit-chart] canvas").count() == page.locator("[data-cockpit-chart]").count()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"insights-cockpit-all-{width}-{locale}")
    link = page.locator("[data-testid=drill-campaign_delivered]")
    assert link.inner_text() == "5" and link.get_attribute("data-members") == "3"
    link.click()
    page.wait_for_load_state("networkidle")
    assert page.inner_text("[data-testid=audience-count]").startswith("3 ")
    context.close()
