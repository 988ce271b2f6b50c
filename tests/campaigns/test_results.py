"""A campaign's results from known data: orders attributed by last touch within the window (its
edges, refunds, two campaigns sharing members, a click as the latest touch), the holdout uplift and
its z-test, the funnel by reason, store and staff member, cut to a store manager's own store, the
page and the API (and its schema)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.links import services as links
from campaigns.links import tokens
from campaigns.links.models import ShortLink
from campaigns.models import Campaign, Delivery
from campaigns.services import results, sending
from loyalty.orders.models import Order
from members.models import Member
from scrm.errors import NotInScope
from tests.campaigns.conftest import consent, make_members

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - dt.timedelta(days=40)
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)
_numbers = iter(range(1, 1_000_000))


def order(member, at, amount, refunded=0, store=None):
    status = "paid" if not refunded else ("refunded" if refunded == amount else "partially_refunded")
    return Order.objects.create(
        channel="pos", external_id=f"R{next(_numbers)}", member=member, store=store or member.home_store,
        total_amount=Decimal(amount), refunded_amount=Decimal(refunded), status=status, placed_at=at,
    )


def sent_at(campaign, at, members=None):
    """The campaign started just before `at` and its messages were delivered at `at`."""
    Campaign.objects.filter(pk=campaign.pk).update(started_at=at - dt.timedelta(hours=1))
    rows = Delivery.objects.filter(campaign=campaign, state="sent")
    if members is not None:
        rows = rows.filter(member__in=members)
    rows.update(sent_at=at)
    campaign.refresh_from_db()
    return campaign


def click(campaign, member, at):
    link = ShortLink.objects.filter(campaign=campaign).first()
    links.follow(code=link.code, token=tokens.make(link.code, member.pk), user_agent="", now=at)


def figures(campaign, actor, **kw):
    return results.campaign_results(campaign=campaign, actor=actor, now=kw.pop("now", T0 + 60 * DAY))


def test_orders_count_within_the_window_after_the_message_net_of_refunds(audience, make_campaign, alice, settings):
    a, b = audience
    campaign = make_campaign()
    sending.tick()
    sent_at(campaign, T0)
    order(a[0], T0 - SECOND, 500)  # before the message: not the campaign's
    order(a[0], T0 + 7 * DAY - SECOND, 100)  # the last second of the window
    order(a[0], T0 + 7 * DAY, 900)  # the window is over
    order(a[1], T0, 80, refunded=30)  # at the very moment of the message, partly refunded: 50
    order(a[2], T0 + DAY, 60, refunded=60)  # refunded in full: no conversion

    funnel = figures(campaign, alice).funnel
    assert (funnel.converted, funnel.orders, funnel.revenue) == (2, 2, Decimal("150.00"))
    assert (funnel.targeted, funnel.sent, funnel.delivered) == (5, 5, 5)

    settings.SIYU_CAMPAIGN_ATTRIBUTION_DAYS = 3
    funnel = figures(campaign, alice).funnel
    assert (funnel.converted, funnel.orders, funnel.revenue) == (1, 1, Decimal("50.00"))


def test_an_order_counts_for_the_latest_touch_only(audience, make_campaign, alice):
    a, _b = audience
    first = make_campaign(name="first", content="Hi {name}: https://shop.example.com/a")
    sending.tick()
    second = make_campaign(name="second")
    sending.tick()
    sent_at(first, T0)
    sent_at(second, T0 + DAY)
    order(a[2], T0 + 12 * dt.timedelta(hours=1), 40)  # only the first had reached her: first's
    order(a[0], T0 + 2 * DAY, 100)  # the second message is the latest touch: second's
    click(first, a[1], T0 + 3 * DAY)  # then she opens the first one's link...
    order(a[1], T0 + 4 * DAY, 60)  # ...so her order is the first's

    one, two = figures(first, alice).funnel, figures(second, alice).funnel
    assert (one.converted, one.orders, one.revenue, one.clicked, one.clicks) == (2, 2, Decimal("100.00"), 1, 1)
    assert (two.converted, two.orders, two.revenue, two.clicked) == (1, 1, Decimal("100.00"), 0)
    assert one.revenue + two.revenue == sum(o.net_amount for o in Order.objects.all())  # nothing counted twice


def test_a_click_keeps_an_order_in_the_window_after_the_message_is_old(audience, make_campaign, alice):
    a, _b = audience
    campaign = make_campaign(content="Hi {name}: https://shop.example.com/a")
    sending.tick()
    sent_at(campaign, T0)
    click(campaign, a[0], T0 + 6 * DAY)
    order(a[0], T0 + 10 * DAY, 70)  # ten days after the message, four after the click
    assert figures(campaign, alice).funnel.revenue == Decimal("70.00")
    links_figures = figures(campaign, alice).links
    assert [(link.target_url, link.clicks, link.members) for link in links_figures] == [
        ("https://shop.example.com/a", 1, 1)
    ]


@pytest.fixture
def crowd(store_a):
    """200 consenting members of store A, by id."""
    return make_members(store_a, 200, prefix="c")


def test_the_holdout_uplift_from_known_data(crowd, make_campaign, alice, everyone):
    campaign = make_campaign(holdout_share=Decimal("0.5"))
    # Known groups, whatever the random split: the first 100 got it, the next 100 were held out.
    got, held = crowd[:100], crowd[100:]
    Delivery.objects.filter(campaign=campaign, member__in=got).update(state="sent", sent_at=T0, reason="")
    Delivery.objects.filter(campaign=campaign, member__in=held).update(state="held_out", sent_at=None, reason="")
    sent_at(campaign, T0 + dt.timedelta(hours=1))
    start = campaign.started_at
    for member in got[:30]:
        order(member, start + 2 * DAY, 100)
    for member in held[:10]:
        order(member, start + 3 * DAY, 50)
    order(held[50], start + 7 * DAY, 999)  # after the window
    order(held[51], start - SECOND, 999)  # before the start

    uplift = figures(campaign, alice).uplift
    assert (uplift.sent.members, uplift.sent.converted, uplift.sent.revenue) == (100, 30, Decimal("3000.00"))
    assert (uplift.held_out.members, uplift.held_out.converted, uplift.held_out.revenue) == (100, 10, Decimal("500.00"))
    assert uplift.sent.conversion_rate == 0.3 and uplift.held_out.conversion_rate == 0.1
    assert uplift.conversion_difference == pytest.approx(0.2)
    assert (uplift.sent.revenue_per_member, uplift.held_out.revenue_per_member) == (Decimal("30.00"), Decimal("5.00"))
    assert uplift.revenue_per_member_difference == Decimal("25.00")
    # pooled 0.2; se = sqrt(0.2 * 0.8 * (1/100 + 1/100)) = 0.05657; z = 0.2 / se = 3.536; p = erfc(z / sqrt 2)
    assert uplift.z == pytest.approx(0.2 / math.sqrt(0.0032))
    assert uplift.p_value == pytest.approx(math.erfc(2.5), rel=1e-6)
    assert uplift.verdict == "significant" and uplift.complete
    assert uplift.end == start + 7 * DAY


def test_a_small_holdout_is_not_significant_yet(audience, make_campaign, alice):
    campaign = make_campaign(holdout_share=Decimal("0.5"))
    a, b = audience
    Delivery.objects.filter(campaign=campaign, member__in=a).update(state="sent", sent_at=T0)
    Delivery.objects.filter(campaign=campaign, member__in=b).update(state="held_out", sent_at=None)
    sent_at(campaign, T0)
    order(a[0], T0 + DAY, 10)
    uplift = figures(campaign, alice, now=T0 + 2 * DAY).uplift
    assert (uplift.sent.members, uplift.held_out.members, uplift.sent.converted) == (3, 2, 1)
    assert uplift.verdict == "too_few" and uplift.z is None and not uplift.complete
    assert uplift.verdict_text.startswith("Not significant yet")
    assert results.z_test(12, 100, 9, 100)[2] == "not_significant"


def test_the_funnel_by_reason_store_and_staff(audience, make_campaign, alice, carol, dave):
    a, b = audience
    consent(a[2], granted=False)
    campaign = make_campaign(content="Hi {name}: https://shop.example.com/a")
    Delivery.objects.filter(campaign=campaign, member__in=a).update(staff=carol)
    Delivery.objects.filter(campaign=campaign, member__in=b).update(staff=dave)
    sending.tick()
    sent_at(campaign, T0)
    click(campaign, a[0], T0 + DAY)
    order(a[0], T0 + 2 * DAY, 100)
    order(b[0], T0 + 2 * DAY, 40)

    found = figures(campaign, alice)
    f = found.funnel
    assert (f.targeted, f.suppressed, f.sent, f.delivered, f.clicked, f.converted, f.revenue) == (
        5, 1, 4, 4, 1, 2, Decimal("140.00"))
    assert [(r.state, r.reason, r.count) for r in found.reasons] == [("suppressed", "opted_out", 1)]
    by_store = {g.code: (g.figures.targeted, g.figures.sent, g.figures.converted, g.figures.revenue)
                for g in found.by_store}
    assert by_store == {"SH01": (3, 2, 1, Decimal("100.00")), "BJ01": (2, 2, 1, Decimal("40.00"))}
    by_staff = {g.code: (g.figures.targeted, g.figures.clicked) for g in found.by_staff}
    assert by_staff == {"carol": (3, 1), "dave": (2, 0)}


def test_a_store_manager_sees_only_their_stores_members(audience, make_campaign, alice, bob, store_b,
                                                         api_client, dave):
    a, _b = audience
    campaign = make_campaign(actor=bob)  # store A's campaign: its members are store A's
    sending.tick()
    sent_at(campaign, T0)
    for member in a:
        order(member, T0 + DAY, 10)
    Member.objects.filter(pk=a[2].pk).update(home_store=store_b)  # she moved to store B since

    everything = figures(campaign, alice)
    assert {g.code: g.figures.targeted for g in everything.by_store} == {"SH01": 2, "BJ01": 1}
    assert everything.funnel.revenue == Decimal("30.00")
    mine = figures(campaign, bob)
    assert mine.store_id == bob.store_id
    assert {g.code: g.figures.targeted for g in mine.by_store} == {"SH01": 2}
    assert (mine.funnel.targeted, mine.funnel.converted, mine.funnel.revenue) == (2, 2, Decimal("20.00"))
    with pytest.raises(NotInScope):
        figures(campaign, dave)

    api_client.force_authenticate(bob)
    body = api_client.get(f"/api/v1/campaigns/{campaign.pk}/results/").json()
    assert body["store"] == "SH01" and [g["store"]["code"] for g in body["by_store"]] == ["SH01"]
    assert body["funnel"]["targeted"] == 2 and body["funnel"]["revenue"] == "20.00"
    api_client.force_authenticate(dave)
    assert api_client.get(f"/api/v1/campaigns/{campaign.pk}/results/").status_code == 404

    from django.test import Client

    browser = Client()
    browser.force_login(bob)
    page = browser.get(f"/campaigns/{campaign.pk}/results/").content.decode()
    assert 'data-testid="by-store-SH01"' in page and 'data-testid="by-store-BJ01"' not in page
    assert 'data-testid="results-store-only"' in page
    browser.force_login(dave)
    assert browser.get(f"/campaigns/{campaign.pk}/results/").status_code == 404


def test_the_figures_take_a_fixed_number_of_queries(crowd, make_campaign, alice, django_assert_max_num_queries):
    campaign = make_campaign(holdout_share=Decimal("0.2"), content="Hi: https://shop.example.com/a")
    sending.tick()
    sent_at(campaign, T0)
    for member in crowd[:50]:
        order(member, T0 + DAY, 10)
    # snapshot size, jit off, funnel, store names, links, uplift (no staff here), and the savepoint around them
    with django_assert_max_num_queries(8):
        found = figures(campaign, alice)
    assert found.funnel.targeted == 200 and found.funnel.held_out + found.funnel.sent == 200


def test_a_campaign_not_started_has_empty_results(audience, make_campaign, alice, django_assert_num_queries):
    draft = make_campaign(start=False)
    with django_assert_num_queries(0):
        found = figures(draft, alice)
    assert not found.started and found.funnel.targeted == 0 and found.uplift is None


def test_the_api_answers_the_results(audience, make_campaign, alice, api_client, key_client, store_a):
    a, _b = audience
    campaign = make_campaign(holdout_share=Decimal("0.2"), content="Hi: https://shop.example.com/a")
    sending.tick()
    sent_at(campaign, T0)
    api_client.force_authenticate(alice)
    response = api_client.get(f"/api/v1/campaigns/{campaign.pk}/results/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["campaign"] == campaign.pk and body["started"] and body["window_days"] == 7 and body["store"] is None
    assert set(body["funnel"]) == {"targeted", "held_out", "suppressed", "waiting", "failed", "sent", "delivered",
                                   "clicked", "clicks", "converted", "orders", "revenue"}
    assert body["funnel"]["targeted"] == 5 and body["funnel"]["revenue"] == "0.00"
    assert [link["target_url"] for link in body["links"]] == ["https://shop.example.com/a"]
    assert body["uplift"]["verdict"] == "too_few" and body["uplift"]["verdict_text"].startswith("Not significant yet")
    assert {g["store"]["code"] for g in body["by_store"]} == {"SH01", "BJ01"}
    assert body["by_staff"] == [{"staff": None, "figures": body["funnel"]}]

    api_client.force_authenticate(None)
    keyed = key_client(scopes=["campaigns:read"], store=store_a)
    assert keyed.get(f"/api/v1/campaigns/{campaign.pk}/results/").status_code == 404  # a brand-wide campaign
    assert key_client(scopes=["members:read"]).get(f"/api/v1/campaigns/{campaign.pk}/results/").status_code == 403


def test_the_schema_documents_the_results(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    import yaml

    schema = yaml.safe_load((tmp_path / "schema.yml").read_text())
    operation = schema["paths"]["/api/v1/campaigns/{id}/results/"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Results")
    parts = schema["components"]["schemas"]
    assert {"funnel", "by_store", "by_staff", "links", "uplift", "reasons"} <= set(parts["Results"]["properties"])
    assert parts["Uplift"]["properties"]["verdict"]["$ref"].endswith("VerdictEnum")
    assert parts["Figures"]["properties"]["revenue"]["type"] == "string"
