"""Orders, refunds and the points ledger on the member timeline, after the real services ran, worded
in the reader's language whatever language the ledger line was written in."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone, translation
from rest_framework.test import APIClient

from loyalty.orders import services as orders
from loyalty.points import services as points
from loyalty.points.models import PointEntry, Reward
from members import timeline
from tests.loyalty.orders.data import order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_language():
    """A request in Chinese leaves its language active in the thread; later tests expect theirs."""
    language = translation.get_language()
    yield
    translation.activate(language)


def texts(member, reader, language, kinds=()) -> list[str]:
    with translation.override(language):
        return [e.text for e in timeline.page(member, reader, kinds=kinds, limit=50).entries]


@pytest.fixture
def member(members):
    return members[0][0]


@pytest.fixture
def bought(policy, member, alice):
    recorded, _created = orders.record_order(data=order(phone=member.phone), actor=alice)
    points.sync_orders(order_ids=[recorded.pk])
    return recorded


def test_order_refund_and_points_appear_in_english_and_chinese(bought, member, alice, carol):
    with translation.override("zh-hans"):  # written by a Chinese-speaking operator
        orders.record_refund(order=bought, external_id="R1", amount="58.00", actor=alice)
        points.sync_orders(order_ids=[bought.pk])
    english = texts(member, carol, "en")
    assert "Order SH01-0001: CNY 358.00 (Store POS, 上海南京西路店)" in english
    assert "Refund R1 on order SH01-0001: CNY 58.00" in english
    assert "Order SH01-0001: ¥358.00 × 1 pt/¥ = 358 pts" in english
    assert "Refund on order SH01-0001 (net now ¥300.00): 58 pts taken back" in english
    chinese = texts(member, carol, "zh-hans")
    # The same rows worded for a Chinese reader (labels and ledger lines the catalogue translates).
    assert len(chinese) == len(english) and any("门店 POS" in t and "上海南京西路店" in t for t in chinese)
    assert "订单 SH01-0001 退款（现净额 ¥300.00）：扣回 58 积分" in chinese
    entry = PointEntry.objects.get(member=member, kind="clawback")
    assert entry.reason_code == "refund" and entry.reason_params["points"] == 58
    with translation.override("en"):
        assert entry.description == "Refund on order SH01-0001 (net now ¥300.00): 58 pts taken back"
        assert entry.actor_display == "Points policy"  # a code, worded for the reader


def test_adjust_redeem_cancel_and_expire_are_told(bought, member, alice, carol):
    points.adjust_points(member=member, points=-8, reason="补录错误", actor=alice)
    reward = Reward.objects.create(name="黑巧礼盒", kind="gift", points_cost=300)
    redemption = points.redeem(member=member, reward=reward, actor=carol)
    points.cancel_redemption(redemption=redemption, actor=carol, reason="换货")
    points.expire_due_points(now=timezone.now() + datetime.timedelta(days=3 * 366))
    shown = texts(member, carol, "en", kinds=["points"])
    assert shown[:4] == [
        f"350 pts expired (1 lot(s), valid until {shown[0][-11:-1]})",
        "Redemption of 黑巧礼盒 cancelled: 300 pts returned (换货)",
        "Redeemed 黑巧礼盒 (Gift): 300 pts",
        "Adjusted by -8 pts: 补录错误",
    ]
    chinese = texts(member, carol, "zh-hans", kinds=["points"])
    assert chinese[0].startswith("350 积分已过期（1 个批次") and chinese[2].startswith("兑换 黑巧礼盒（")


def test_ledger_lines_from_before_reason_codes_keep_their_text(bought, member, carol):
    PointEntry.objects.filter(member=member).update(reason_code="", reason_params={}, explanation="订单积分")
    assert texts(member, carol, "en", kinds=["points"]) == ["订单积分"]


def test_another_stores_order_stays_out_of_a_clerks_history(policy, member, alice, carol, store_b):
    orders.record_order(data=order(phone=member.phone, external_id="BJ-1", store="BJ01"), actor=alice)
    assert not any("BJ-1" in t for t in texts(member, carol, "en", kinds=["orders"]))
    assert any("BJ-1" in t for t in texts(member, alice, "en", kinds=["orders"]))


def test_api_gives_the_points_ledger_in_the_language_asked(bought, member, carol):
    client = APIClient(headers={"accept-language": "en"})
    client.force_authenticate(carol)
    english = client.get(f"/api/v1/members/{member.pk}/timeline/", {"kind": "points"}).json()["results"]
    assert english[0]["text"] == "Order SH01-0001: ¥358.00 × 1 pt/¥ = 358 pts"
    assert english[0]["by"] == "Points policy"
    client = APIClient(headers={"accept-language": "zh-hans"})
    client.force_authenticate(carol)
    chinese = client.get(f"/api/v1/members/{member.pk}/timeline/", {"kind": "points"}).json()["results"]
    assert (chinese[0]["text"], chinese[0]["by"]) == ("订单 SH01-0001：¥358.00 × 1 积分/¥ = 358 积分", "积分规则")
