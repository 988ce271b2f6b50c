"""Figures: the sums, scoped per role and store, on the page, in the API and in a browser."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from insights import queries, services
from members.models import Member


@pytest.fixture
def sales(store_a, store_b, carol, dave, buy):
    a = [Member.objects.create(name=f"甲{i}", home_store=store_a) for i in range(3)]
    b = Member.objects.create(name="乙", home_store=store_b)
    buy(a[0], total="300", staff=carol)
    buy(a[0], total="100", staff=carol, days_ago=20)
    buy(a[1], total="200", refunded="50")
    buy(a[2], total="100", days_ago=60)  # outside 30 days, inside 90
    buy(None, total="50")  # a buyer who is not a member (yet)
    buy(None, total="90", currency="USD")  # not the reporting currency
    buy(b, total="1000", store=store_b, staff=dave)
    buy(b, total="500", store=store_b, staff=dave, days_ago=3)
    services.refresh_rfm()
    return a, b


def test_operator_figures(alice, sales):
    s = queries.sales(alice, days=30)
    assert s["orders"] == 6 and s["gmv"] == Decimal("2100.00")
    assert s["buyers"] == 3 and s["repeat_buyers"] == 2 and s["repurchase_rate"] == round(2 / 3, 4)
    assert s["aov_members"] == Decimal("410.00") and s["aov_others"] == Decimal("50.00")  # 2050/5 and 50/1
    assert s["member_gmv_share"] == round(2050 / 2100, 4)
    assert [r["store__code"] for r in s["by_store"]] == ["BJ01", "SH01"]
    guides = {r["staff__username"]: r["gmv"] for r in s["by_guide"]}
    assert guides == {"dave": Decimal("1500.00"), "carol": Decimal("400.00"), None: Decimal("200.00")}
    assert queries.sales(alice, days=90)["orders"] == 7
    assert queries.period("7") == 30 and queries.period("365") == 365


def test_store_manager_figures_are_their_store(bob, sales):
    s = queries.sales(bob, days=30)
    assert s["orders"] == 4 and s["gmv"] == Decimal("600.00")
    assert [r["store__code"] for r in s["by_store"]] == ["SH01"]
    assert queries.rfm(bob)["members"] == 3


def test_figures_page_roles(client, alice, bob, carol, sales, django_assert_max_num_queries):
    client.force_login(carol)
    assert client.get(reverse("insights-figures")).status_code == 403
    client.force_login(bob)
    body = client.get(reverse("insights-figures"), {"days": 90}).content.decode()
    assert "北京三里屯店" not in body and "上海南京西路店" in body
    client.force_login(alice)
    with django_assert_max_num_queries(25):
        response = client.get(reverse("insights-figures"))
    body = response.content.decode()
    assert "2,100" in body and "北京三里屯店" in body and "Champions" in body


def test_figures_api(api_client, key_client, alice, carol, store_b, sales):
    # Clerks are refused the figures in the API as on the page.
    api_client.force_authenticate(carol)
    assert api_client.get("/api/v1/insights/figures/").status_code == 403
    api_client.force_authenticate(alice)
    body = api_client.get("/api/v1/insights/figures/", {"days": 30}).json()
    assert body["sales"]["orders"] == 6 and body["rfm"]["members"] == 4
    api_client.force_authenticate(None)
    client = key_client(scopes=["insights:read"], store=store_b)
    assert client.get("/api/v1/insights/figures/").json()["sales"]["orders"] == 2
    assert key_client(scopes=["members:read"]).get("/api/v1/insights/figures/").status_code == 403


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_figures_in_a_browser(browser, live_server, alice, sales, shot):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/insights/")
    assert "2,100" in page.inner_text("[data-testid=fig-gmv]")
    page.click("[data-testid=period-switch] a[href='?days=90']")
    page.wait_for_load_state("networkidle")
    assert "2,200" in page.inner_text("[data-testid=fig-gmv]")
    shot(page, "insights-figures-operator")
    context.close()
