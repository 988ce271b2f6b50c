"""Redeeming from the member panel in two steps: choosing shows the cost and the balance after and
deducts nothing; confirming spends the step's token once (a double tap or a resent form redeems
once); the server refuses what the member cannot afford whatever the form says."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse

from loyalty.points import services
from loyalty.points.models import Redemption, Reward
from tests.loyalty.points.conftest import balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(policy, members, alice, client, carol):
    member = members[0][0]
    services.adjust_points(member=member, points=400, reason="开卡礼", actor=alice)
    gift = Reward.objects.create(name="Coco 黑巧礼盒", kind="gift", points_cost=300, stock=5)
    dear = Reward.objects.create(name="抹茶生巧", kind="gift", points_cost=5000)
    client.force_login(carol)
    return {
        "member": member,
        "broke": members[0][1],
        "gift": gift,
        "dear": dear,
        "url": reverse("member-points-redeem", args=[member.pk]),
    }


def _post(client, url, data):
    return client.post(url, data, HTTP_HX_REQUEST="true").content.decode()


def _token(body):
    return re.search(r'name="token" value="([0-9a-f]{32})"', body).group(1)


def test_choosing_shows_cost_and_balance_after_and_deducts_nothing(client, setup):
    body = _post(client, setup["url"], {"reward": setup["gift"].pk, "from": "mobile"})
    assert 'data-testid="redeem-review"' in body
    assert 'data-testid="review-after"><b>100</b>' in body and "−300" in body
    assert balance(setup["member"]) == 400 and not Redemption.objects.exists()


def test_confirming_twice_with_one_token_redeems_once(client, setup):
    token = _token(_post(client, setup["url"], {"reward": setup["gift"].pk}))
    confirm = {"reward": setup["gift"].pk, "token": token, "step": "confirm"}
    assert "redeemed for 300 pts" in _post(client, setup["url"], confirm)
    again = _post(client, setup["url"], confirm)
    assert "already redeemed" in again and "nothing was deducted again" in again
    assert Redemption.objects.count() == 1 and balance(setup["member"]) == 100
    setup["gift"].refresh_from_db()
    assert setup["gift"].stock == 4
    # A plain (script-less) resend after the redirect is refused the same way.
    response = client.post(setup["url"], confirm)
    assert response.status_code == 302 and Redemption.objects.count() == 1


def test_the_server_refuses_what_the_member_cannot_afford(client, setup):
    body = _post(client, setup["url"], {"reward": setup["dear"].pk})
    assert "Not enough points" in body and "4600 short" in body and "redeem-review" not in body
    forged = {"reward": setup["dear"].pk, "token": uuid.uuid4().hex, "step": "confirm"}
    body = _post(client, setup["url"], forged)
    assert 'role="alert"' in body and "5000" in body
    assert not Redemption.objects.exists() and balance(setup["member"]) == 400


def test_at_zero_points_the_panel_says_not_enough_points(client, setup):
    url = reverse("member-points-redeem", args=[setup["broke"].pk])
    body = _post(client, url, {})
    assert "Not enough points for any reward." in body and "Pick a reward first" not in body
    page = client.get(reverse("member-detail", args=[setup["broke"].pk])).content.decode()
    assert re.search(r'data-testid="points-redeem" disabled>Not enough points<', page)


def test_a_confirmation_without_its_token_is_refused(client, setup):
    body = _post(client, setup["url"], {"reward": setup["gift"].pk, "step": "confirm", "token": "x"})
    assert "not valid any more" in body and not Redemption.objects.exists()


def test_without_script_the_confirmation_is_a_page_of_its_own(client, setup):
    response = client.post(setup["url"], {"reward": setup["gift"].pk, "from": "mobile"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "points/redeem_confirm.html" in [t.name for t in response.templates]
    assert 'class="m-tabs"' in body and 'data-testid="redeem-confirm"' in body
    assert not Redemption.objects.exists()
