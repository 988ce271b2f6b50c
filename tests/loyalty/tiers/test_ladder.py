"""The ladder service: validation that names the level, nothing half-written, recalculation queued."""

from __future__ import annotations

import pytest

from loyalty.tiers import services
from loyalty.tiers.models import DowngradePolicy, TierLadder, TierLevel
from scrm.errors import InvalidInput

from .conftest import LEVELS

pytestmark = pytest.mark.django_db


def _save(actor, **data):
    return services.save_ladder(actor=actor, data={"levels": LEVELS, **data})


def test_create_and_read_back(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ladder = _save(alice, name="诺梵会员", downgrade_policy="grace", grace_days=60)
    assert [(lv.rank, lv.name, str(lv.threshold)) for lv in ladder.levels.all()] == [
        (1, "可可小白", "0.00"),
        (2, "可可达人", "1000.00"),
        (3, "可可大师", "5000.00"),
    ]
    assert ladder.downgrade_policy == DowngradePolicy.GRACE and ladder.grace_days == 60
    assert len(callbacks) == 1  # everyone recalculated once this commits


def test_overlapping_thresholds_name_the_level_and_change_nothing(alice, ladder, django_capture_on_commit_callbacks):
    bad = [dict(lv) for lv in LEVELS]
    bad[2]["threshold"] = "800"  # 可可大师 below 可可达人
    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(InvalidInput) as caught:
        _save(alice, levels=bad, window_days=30)
    problem = caught.value.details["levels"]["2"]["threshold"][0]
    assert "可可大师" in problem and "可可达人" in problem and "1000" in problem
    assert not callbacks
    ladder.refresh_from_db()
    assert ladder.window_days == 365
    assert list(TierLevel.objects.values_list("threshold", flat=True).order_by("rank")) == [0, 1000, 5000]


@pytest.mark.parametrize(
    ("change", "where", "field"),
    [
        ({"rank": 2}, "2", "rank"),  # duplicate rank
        ({"name": "可可达人"}, "2", "name"),  # duplicate name
        ({"threshold": "-5"}, "2", "threshold"),
        ({"threshold": "abc"}, "2", "threshold"),
        ({"threshold": "1000"}, "2", "threshold"),  # equal is overlapping too
        ({"rank": 5}, "2", "rank"),  # a gap
        ({"colour": "brown"}, "2", "colour"),
        ({"name": ""}, "2", "name"),
    ],
)
def test_bad_levels(alice, change, where, field):
    bad = [dict(lv) for lv in LEVELS]
    bad[2].update(change)
    with pytest.raises(InvalidInput) as caught:
        _save(alice, levels=bad)
    assert field in caught.value.details["levels"][where], caught.value.details
    assert not TierLadder.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"window_days": 0}, "window_days"),
        ({"window_days": "x"}, "window_days"),
        ({"downgrade_policy": "sometimes"}, "downgrade_policy"),
        ({"period_end_month": 2, "period_end_day": 30}, "period_end_day"),
        ({"basis": "karma"}, "basis"),
        ({"levels": []}, "levels"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_ladder_fields(alice, data, field):
    with pytest.raises(InvalidInput) as caught:
        _save(alice, **data)
    assert field in caught.value.details


def test_edit_keeps_level_ids_swaps_and_removes(alice, ladder, levels, django_capture_on_commit_callbacks):
    first, second, third = levels
    new = [
        {"id": first.pk, "rank": 1, "name": "可可小白", "threshold": "0"},
        {"id": third.pk, "rank": 2, "name": "可可大师", "threshold": "3000"},  # moved down a rank
        {"rank": 3, "name": "可可传奇", "threshold": "20000"},
    ]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.save_ladder(actor=alice, data={"levels": new}, partial=True)
    assert list(TierLevel.objects.order_by("rank").values_list("id", "name"))[:2] == [
        (first.pk, "可可小白"),
        (third.pk, "可可大师"),
    ]
    assert not TierLevel.objects.filter(pk=second.pk).exists()
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # the same again: nothing to recalculate
        services.save_ladder(
            actor=alice,
            data={
                "levels": [
                    {"id": lv.pk, "rank": lv.rank, "name": lv.name, "threshold": str(lv.threshold)}
                    for lv in TierLevel.objects.order_by("rank")
                ]
            },
            partial=True,
        )
    assert not callbacks
