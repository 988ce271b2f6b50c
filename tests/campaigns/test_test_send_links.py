"""A test send's links are short links as a member's are, but test links of their own: each test send
gets its own codes (a draft still gets no campaign link), the token is marked as a test's, following
one through the real view redirects to the target and counts on the test send only (HEAD not
counted, a tampered token still redirects but counts nothing), and neither the campaign's clicks,
its results (funnel, links, attribution) nor a test token on a campaign's code ever see it."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.links import tokens
from campaigns.links.models import Click, ShortLink, StaffTestLink
from campaigns.models import Campaign, Delivery, OutboxMessage, StaffTestSend
from campaigns.services import campaigns as lifecycle
from campaigns.services import results, sending
from loyalty.orders.models import Order

pytestmark = pytest.mark.django_db

PUBLIC = "https://go.example.cn"
TRACKED = re.compile(re.escape(PUBLIC) + r"/l/([0-9A-Za-z]{7})/([0-9A-Za-z_~-]+)")
TEXT = "Hi {name}: https://shop.example.com/a 以及 https://shop.example.com/b，欢迎"


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.SIYU_PUBLIC_URL = PUBLIC


def _follow(browser, code, token, method="get"):
    return getattr(browser, method)(f"/l/{code}/{token}", HTTP_USER_AGENT="staff phone")


def test_a_test_sends_links_redirect_and_never_count_as_the_campaigns_clicks(api_client, alice, carol, audience,
                                                                              make_campaign, client):
    a, _b = audience
    campaign = make_campaign(content=TEXT, start=False)
    api_client.force_authenticate(alice)
    answer = api_client.post(f"/api/v1/campaigns/{campaign.pk}/test-sends/",
                             {"recipients": [carol.pk], "sample_member": a[0].pk}, format="json")
    assert answer.status_code == 201, answer.content
    row = answer.json()["results"][0]
    found = TRACKED.findall(row["text"])
    assert len(found) == 2 and row["text"].startswith(f"Hi {a[0].name}: {PUBLIC}/l/")
    assert "https://shop.example.com/a" not in row["text"]  # the raw link is not what staff get
    assert all(token.startswith(tokens.TEST_MARK) for _code, token in found)
    assert tokens.test_send_of(found[0][0], found[0][1]) == row["id"]
    assert tokens.member_of(found[0][0], found[0][1]) is None and tokens.staff_of(found[0][0], found[0][1]) is None
    assert not ShortLink.objects.filter(campaign=campaign).exists()  # a draft still has no campaign link
    assert StaffTestSend.objects.get(pk=row["id"]).text == row["text"]  # recorded as sent

    # A staff member who opens it lands on the page; the opening counts on the test send only.
    browser = Client()
    code, token = found[0]
    opened = _follow(browser, code, token)
    assert opened.status_code == 302 and opened["Location"] == "https://shop.example.com/a"
    assert _follow(browser, code, token, "head").status_code == 302  # a link checker: not counted
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert _follow(browser, code, tampered)["Location"] == "https://shop.example.com/a"  # works, counts nothing
    assert StaffTestLink.objects.get(code=code).opened == 1
    assert not Click.objects.exists()

    # The campaign goes out; a member opens her own link; staff open the test link again.
    lifecycle.approve(campaign=campaign, actor=alice)
    lifecycle.send(campaign=campaign, actor=alice)
    sending.tick()
    member_text = OutboxMessage.objects.get(campaign=campaign, member=a[1]).text
    real_code, real_token = TRACKED.findall(member_text)[0]
    assert real_code != code
    assert _follow(browser, real_code, real_token)["Location"] == "https://shop.example.com/a"
    assert _follow(browser, code, token)["Location"] == "https://shop.example.com/a"
    # A test token on a campaign's code is no campaign click either: the code is unknown to test links.
    forged = tokens.make_for_test(real_code, row["id"])
    assert _follow(browser, real_code, forged).status_code == 404
    assert list(Click.objects.values_list("campaign_id", "member_id")) == [(campaign.pk, a[1].pk)]
    assert StaffTestLink.objects.get(code=code).opened == 2

    # The results count the member's click alone; an order is attributed by her touch, not the test's.
    at = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(started_at=at - dt.timedelta(hours=1))
    Delivery.objects.filter(campaign=campaign, state="sent").update(sent_at=at - dt.timedelta(minutes=30))
    Order.objects.create(channel="pos", external_id="T-1", member=a[1], store=a[1].home_store,
                         total_amount=Decimal("80"), status="paid", placed_at=at + dt.timedelta(minutes=1))
    campaign.refresh_from_db()
    figures = results.campaign_results(campaign=campaign, actor=alice, now=at + dt.timedelta(days=1))
    assert (figures.funnel.clicked, figures.funnel.clicks) == (1, 1)
    assert figures.funnel.orders == 1 and figures.funnel.revenue == Decimal("80.00")
    assert sorted((link.target_url, link.clicks, link.members) for link in figures.links) == [
        ("https://shop.example.com/a", 1, 1), ("https://shop.example.com/b", 0, 0)]
    body = api_client.get(f"/api/v1/campaigns/{campaign.pk}/results/").json()
    assert body["funnel"]["clicks"] == 1 and body["funnel"]["clicked"] == 1

    # Where staff see it: the test send's openings, in the API and on the campaign page.
    listed = api_client.get(f"/api/v1/campaigns/{campaign.pk}/test-sends/").json()["results"]
    assert [(r["id"], r["links_opened"]) for r in listed] == [(row["id"], 2)]
    client.force_login(alice)
    page = client.get(reverse("campaign-detail", args=[campaign.pk])).content.decode()
    assert f'data-testid="test-send-opened-{row["id"]}">2<' in page


def test_each_test_send_has_its_own_codes_and_a_text_without_links_has_none(api_client, alice, carol, bob,
                                                                            audience, make_campaign):
    campaign = make_campaign(content=TEXT, start=False)
    api_client.force_authenticate(alice)
    rows = api_client.post(f"/api/v1/campaigns/{campaign.pk}/test-sends/", {"recipients": [carol.pk, bob.pk]},
                           format="json").json()["results"]
    codes = [{code for code, _token in TRACKED.findall(r["text"])} for r in rows]
    assert len(codes[0]) == 2 and len(codes[1]) == 2 and not codes[0] & codes[1]
    # A test token names its test send: carol's token does not count on bob's code.
    carol_code, carol_token = TRACKED.findall(rows[0]["text"])[0]
    bob_code = TRACKED.findall(rows[1]["text"])[0][0]
    assert _follow(Client(), bob_code, carol_token).status_code == 302
    assert StaffTestLink.objects.get(code=bob_code).opened == 0
    assert _follow(Client(), carol_code, carol_token).status_code == 302
    assert StaffTestLink.objects.get(code=carol_code).opened == 1

    plain = make_campaign(content="Hi {name}, 春季新品到店", start=False, name="plain")
    row = api_client.post(f"/api/v1/campaigns/{plain.pk}/test-sends/", {"recipients": [carol.pk]},
                          format="json").json()["results"][0]
    assert row["text"] == "Hi (member's name), 春季新品到店"
    assert not StaffTestLink.objects.filter(test_send_id=row["id"]).exists()
