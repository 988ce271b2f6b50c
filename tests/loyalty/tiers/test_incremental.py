"""The incremental nightly run: it reads only the members whose row can have moved since the last
run, and leaves exactly the rows, history and events a run of everyone would."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from loyalty.orders.models import Order
from loyalty.tiers import services
from loyalty.tiers.models import MemberTier, TierChange, TierLevel, TierRun
from loyalty.tiers.services.recalculation import CUTOFF_MARGIN, TIER_CHANGED
from members.models import Member
from members.services.merge import merge_members
from scrm.models import Event

from .conftest import place

pytestmark = pytest.mark.django_db


class _Undo(Exception):
    pass


def _state() -> tuple[list, list, list]:
    tiers = list(
        MemberTier.objects.order_by("member_id").values_list(
            "member_id", "level_id", "earned_level_id", "floor_level_id", "qualifying_value", "since",
            "downgrade_due", "computed_at",
        )
    )
    history = list(
        TierChange.objects.order_by("member_id", "created_at", "from_rank", "to_rank").values_list(
            "member_id", "from_name", "to_name", "from_rank", "to_rank", "reason", "qualifying_value", "note",
            "actor_label", "created_at",
        )
    )
    moves = list(
        Event.objects.filter(type=TIER_CHANGED).order_by("member_id", "occurred_at").values_list(
            "member_id", "store_id", "data", "occurred_at"
        )
    )
    return tiers, history, moves


def _full_run_state(now) -> tuple:
    """What a run of everyone at `now` would leave, computed and then undone."""
    try:
        with transaction.atomic():
            result = services.recalculate_tiers(now=now, full=True)
            assert result.full
            state = _state()
            raise _Undo
    except _Undo:
        pass
    return state


def _level(member) -> str | None:
    tier = MemberTier.objects.filter(member=member).select_related("level").first()
    return tier.level.name if tier and tier.level else None


def test_incremental_run_writes_what_a_full_run_would(alice, ladder, levels, members, store_a, carol):
    services.save_ladder(actor=alice, data={"downgrade_policy": "grace", "grace_days": 5}, partial=True)
    (a, b, c), (d, e) = members
    real_now = timezone.now()
    t_first, t_last, t_now = (real_now - datetime.timedelta(days=20), real_now - datetime.timedelta(days=10),
                              real_now)
    extra = [Member.objects.create(name=f"王{i}", home_store=store_a, owner=carol) for i in range(5)]
    floor_kept, floor_new, duplicate, survivor, unchanged = extra
    place(a, 1500, days_ago=370)  # in the window ten days ago, out of it now: held up by the grace
    place(b, 1500, days_ago=380)  # out of it ten days ago: held up until a due date before now
    place(c, 600, days_ago=100)
    place(d, 1200, days_ago=100)
    refunded = place(d, 300, days_ago=50)
    place(duplicate, 3000, days_ago=30)
    place(survivor, 800, days_ago=30)
    place(unchanged, 2000, days_ago=60)
    # As if placed and received long ago: only what happens below counts as changed.
    Order.objects.update(updated_at=F("placed_at"))
    Member.objects.update(created_at=t_first - datetime.timedelta(days=30))
    first = services.recalculate_tiers(now=t_first)
    assert first.full and _level(b) == "可可达人"
    services.set_floor(member=floor_kept, level_id=levels[1].pk, reason="店长推荐", actor=alice)
    last = services.recalculate_tiers(now=t_last)
    assert not last.full
    assert MemberTier.objects.get(member=b).downgrade_due == t_last + datetime.timedelta(days=5)

    # A day (ten, in fact: nights were missed) of business.
    place(c, 700, days_ago=0)  # a new order: up
    refunded.refunded_amount = Decimal("300")
    refunded.status = "refunded"
    refunded.save()  # a refund
    place(e, 100, days_ago=-0.5)  # placed in the future ten days ago (a clock ahead): enters now
    merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    services.set_floor(member=floor_new, level_id=levels[2].pk, reason="大客户", actor=alice)
    newcomer = Member.objects.create(name="新会员", home_store=store_a, owner=carol)

    expected = _full_run_state(t_now)
    result = services.recalculate_tiers(now=t_now)
    assert not result.full
    assert _state() == expected
    assert result.members_written > 0 and result.downgrades > 0
    live = Member.objects.filter(merged_into=None, erased_at=None).count()
    assert result.candidates < live
    assert _level(a) == "可可达人" and _level(b) == "可可小白" and _level(c) == "可可达人"
    assert _level(survivor) == "可可达人" and _level(newcomer) == "可可小白"
    assert TierChange.objects.filter(member=b).first().reason == "grace_expired"
    # And nothing is left for a run of everyone to do.
    assert services.recalculate_tiers(now=t_now, full=True).members_written == 0


def test_first_run_and_a_ladder_change_read_everyone(alice, ladder, levels, members):
    member = members[0][0]
    place(member, 1500, days_ago=10)
    now = timezone.now()
    assert services.recalculate_tiers(now=now).full
    assert not services.recalculate_tiers(now=now).full
    TierLevel.objects.filter(pk=levels[1].pk).update(threshold=Decimal("1600"))
    changed = services.recalculate_tiers(now=now)
    assert changed.full and changed.downgrades == 1 and _level(member) == "可可小白"
    assert not services.recalculate_tiers(now=now).full
    services.save_ladder(actor=alice, data={"window_days": 5}, partial=True)
    assert services.recalculate_tiers(now=now).full
    # A run dated before the last one (a clock set back) reads everyone too.
    assert services.recalculate_tiers(now=now - datetime.timedelta(days=1)).full
    run = TierRun.objects.first()
    assert run.full and run.members_written == 0


def test_a_prompt_recalculation_records_no_run(ladder, members):
    member = members[0][0]
    place(member, 1500)
    services.recalculate_tiers(member_ids=[member.pk])
    assert not TierRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_cutoff_goes_back_to_the_oldest_open_transaction(alice, ladder, members):
    opened, release = threading.Event(), threading.Event()
    started = {}

    def hold_a_transaction():
        other = connections["default"]
        try:
            with transaction.atomic(), other.cursor() as cursor:
                cursor.execute("SELECT xact_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")
                started["at"] = cursor.fetchone()[0]
                opened.set()
                release.wait(30)
        finally:
            other.close()

    worker = threading.Thread(target=hold_a_transaction)
    worker.start()
    try:
        assert opened.wait(30)
        now = timezone.now() + datetime.timedelta(hours=5)
        services.recalculate_tiers(now=now)
    finally:
        release.set()
        worker.join()
    run = TierRun.objects.get()
    assert run.cutoff == started["at"] - CUTOFF_MARGIN
    connection.close()
