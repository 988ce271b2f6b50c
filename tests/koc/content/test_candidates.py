"""The candidates ranking on a small data set worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.links.models import Click
from communities.models import CommunityMembership
from communities.services import communities as community_services
from koc.models import Creator
from koc.services import candidates, creators
from loyalty.orders.models import Order
from loyalty.referrals.models import Referral
from scrm.errors import InvalidInput


@pytest.fixture
def dataset(members, store_a, store_b, bob, carol):
    (a0, a1, a2), (b0, b1) = members
    now = timezone.now()
    n = iter(range(1, 100))

    def order(member, store, total, refunded=0, days=10):
        Order.objects.create(channel="pos", external_id=f"o{next(n)}", member=member, store=store, total_amount=total,
                             refunded_amount=refunded, placed_at=now - dt.timedelta(days=days))

    order(a0, store_a, Decimal("1200"), Decimal("200"))  # net 1000
    order(a1, store_a, Decimal("200"))
    order(a2, store_a, Decimal("9000"), days=400)  # older than 12 months: not counted
    order(b0, store_b, Decimal("5000"))
    Click.objects.create(link_id=1, campaign_id=1, member=a0, clicked_at=now - dt.timedelta(days=3),
                         minute=now.replace(second=0, microsecond=0))
    Click.objects.create(link_id=1, campaign_id=1, member=a1, clicked_at=now - dt.timedelta(days=200),
                         minute=now.replace(second=0, microsecond=0))  # older than 90 days: not counted
    Referral.objects.create(member=a2, referrer=a1, code="A1", source="api")
    Referral.objects.create(member=b1, referrer=a1, code="A1", source="api")
    club = community_services.create_community(actor=bob, data=community_services.CommunityInput(
        store=store_a, name="Runners", owner=carol))
    CommunityMembership.objects.create(community=club, member=a1)
    return a0, a1, a2, b0, b1


def test_operator_ranking_by_hand(dataset, alice, programme):
    a0, a1, a2, b0, b1 = dataset
    rows = candidates.candidates(actor=alice)
    # spend percentiles among a1 200, a0 1000, b0 5000: 33.33, 66.67, 100; a0 alone clicked (100);
    # a1 alone referred (100) and is in a community (100).
    # a1: 0.4 × 33.33 + 0.3 × 100 + 0.1 × 100 = 53.33; a0: 0.4 × 66.67 + 0.2 × 100 = 46.67; b0: 40.
    assert [(r.member_id, r.total) for r in rows] == [(a1.pk, Decimal("53.33")), (a0.pk, Decimal("46.67")),
                                                      (b0.pk, Decimal("40.00"))]
    top = rows[0]
    assert (top.spend, top.engagement, top.posts, top.community) == (Decimal("33.33"), 0, 100, 100)
    assert (top.spend_amount, top.referrals, top.community_count, top.store) == (Decimal("200"), 2, 1,
                                                                               a1.home_store.name)
    assert [r.member_id for r in candidates.candidates(actor=alice, limit=1)] == [a1.pk]


def test_scoped_to_the_store_and_excluding_creators_and_pending(dataset, alice, bob, dave):
    a0, a1, a2, b0, b1 = dataset
    assert [r.member_id for r in candidates.candidates(actor=bob)] == [a0.pk, a1.pk]  # 60.00 each, by id
    assert candidates.candidates(actor=bob, store_id=b0.home_store_id) == []
    assert [r.member_id for r in candidates.candidates(actor=dave)] == [b0.pk]
    creators.apply(member_id=a0.pk, actor=bob)
    Creator.objects.create(member=b0)
    assert [r.member_id for r in candidates.candidates(actor=alice)] == [a1.pk]
    a1.erased_at = timezone.now()
    a1.save()
    assert candidates.candidates(actor=alice) == []


def test_weights_and_bounds(dataset, alice, programme):
    a0, a1, a2, b0, b1 = dataset
    type(programme).objects.filter(pk=1).update(score_spend_weight=1, score_engagement_weight=0,
                                                score_posts_weight=0, score_community_weight=0)
    assert [r.member_id for r in candidates.candidates(actor=alice)] == [b0.pk, a0.pk, a1.pk]
    for limit in (0, 501, "10"):
        with pytest.raises(InvalidInput):
            candidates.candidates(actor=alice, limit=limit)
