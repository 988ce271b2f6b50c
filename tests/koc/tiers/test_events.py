"""KOC level moves write creator.level_changed in the run's transaction: one per creator whose level
moved (set-based, from the run's table), a manual level too; a run that moves nobody writes none."""

from __future__ import annotations

import pytest

from koc.services import tiers
from scrm.models import Event
from tests.koc.tiers.conftest import add_posts

pytestmark = pytest.mark.django_db


def moves():
    return [(e.member_id, e.store_id, e.data) for e in Event.objects.filter(type="creator.level_changed")
            .order_by("id")]


def level(lv):
    return {"id": lv.pk, "rank": lv.rank, "name": lv.name} if lv else None


def test_each_move_is_one_event_and_a_rerun_none(ladder, make_creator, members):
    (a0, a1, _a2), (b0, _b1) = members
    first, second, idle = make_creator(a0), make_creator(b0), make_creator(a1)
    add_posts(first, 10, interactions=150)
    add_posts(second, 2)
    tiers.recalculate(period_end=False)
    assert moves() == [
        (a0.pk, a0.home_store_id, {"creator": {"id": first.pk}, "from": None, "to": level(ladder[1]),
                                   "reason": "joined"}),
        (b0.pk, b0.home_store_id, {"creator": {"id": second.pk}, "from": None, "to": level(ladder[0]),
                                   "reason": "joined"}),
    ]
    assert idle.pk not in [d["creator"]["id"] for _m, _s, d in moves()]
    tiers.recalculate(period_end=True)
    assert len(moves()) == 2
    add_posts(first, 2, interactions=2000, viral=True)
    tiers.recalculate(period_end=False)
    assert moves()[-1][2] == {"creator": {"id": first.pk}, "from": level(ladder[1]), "to": level(ladder[2]),
                              "reason": "promoted"}


def test_a_manual_level_is_an_event_and_the_same_level_is_none(ladder, make_creator, alice, members):
    creator = make_creator()
    tiers.set_level(creator=creator, actor=alice, level_id=ladder[2].pk, reason="brand ambassador")
    assert tiers.set_level(creator=creator, actor=alice, level_id=ladder[2].pk, reason="again") is None
    assert moves() == [(creator.member_id, members[0][0].home_store_id, {
        "creator": {"id": creator.pk}, "from": None, "to": level(ladder[2]), "reason": "manual"})]


def test_a_refused_manual_level_writes_none(ladder, make_creator, alice):
    from scrm.errors import InvalidInput

    creator = make_creator()
    with pytest.raises(InvalidInput):
        tiers.set_level(creator=creator, actor=alice, level_id=ladder[0].pk, reason="  ")
    assert moves() == []
