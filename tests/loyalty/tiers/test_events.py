"""Tier moves write member.tier_changed in the recalculation's transaction, one per member whose level
moved (set-based), with the levels before and after and the reason; a run that moves nobody writes none."""

from __future__ import annotations

import pytest

from loyalty.tiers import services
from scrm.models import Event

from .conftest import place

pytestmark = pytest.mark.django_db


def moves():
    return [(e.member_id, e.store_id, e.data) for e in Event.objects.filter(type="member.tier_changed").order_by("id")]


def level(lv):
    return {"id": lv.pk, "rank": lv.rank, "name": lv.name} if lv else None


def test_each_move_is_one_event_and_no_move_is_none(ladder, levels, members):
    (a0, a1, a2), (b0, b1) = members
    place(a2, 5500)
    place(b0, 1000)
    services.recalculate_tiers()
    found = {m: (s, d) for m, s, d in moves()}
    assert len(found) == 5  # everyone reached at least the first level
    assert found[a2.pk] == (a2.home_store_id, {"from": None, "to": level(levels[2]), "reason": "nightly"})
    assert found[b0.pk] == (b0.home_store_id, {"from": None, "to": level(levels[1]), "reason": "nightly"})
    assert found[a0.pk][1]["to"] == level(levels[0])
    services.recalculate_tiers()
    assert len(moves()) == 5
    place(a0, 1200)
    services.recalculate_tiers(member_ids=[a0.pk, a1.pk], reason="order")
    assert moves()[5:] == [(a0.pk, a0.home_store_id, {"from": level(levels[0]), "to": level(levels[1]),
                                                    "reason": "order"})]


def test_a_move_down_says_why(ladder, levels, members):
    member = members[0][0]
    order = place(member, 1500)
    services.recalculate_tiers(member_ids=[member.pk])
    order.refunded_amount = order.total_amount
    order.status = "refunded"
    order.save()
    services.recalculate_tiers(member_ids=[member.pk], reason="order")
    assert moves()[-1][2] == {"from": level(levels[1]), "to": level(levels[0]), "reason": "refund"}


def test_a_failed_recalculation_leaves_no_event(ladder, members):
    place(members[0][0], 2000)
    with pytest.raises(ValueError):
        services.recalculate_tiers(reason="no such reason")
    assert moves() == []
