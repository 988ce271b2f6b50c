"""RFM: quintiles over members with orders, the segment rule, rescoring against stored boundaries,
the hook on a real worker, and the segment filters."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from insights import services
from insights.models import MemberRFM, RFMBoundaries
from loyalty.orders import hooks
from loyalty.orders.models import Order
from members.models import Member
from members.segments import queries as segment_queries
from tests.helpers import wait_for


def _population(store, buy, n=10):
    """Member i bought i+1 times, last i days ago (member 0 once, 0 days ago... member 9 ten times)."""
    people = [Member.objects.create(name=f"买家{i}", home_store=store) for i in range(n)]
    for i, m in enumerate(people):
        for k in range(i + 1):
            buy(m, days_ago=(n - i) * 10 + k, total=str(100 * (i + 1)))
    return people


def test_full_refresh_scores_by_quintile(store_a, buy):
    people = _population(store_a, buy)
    result = services.refresh_rfm()
    assert result["scored"] == 10
    rows = {r.member_id: r for r in MemberRFM.objects.all()}
    top, bottom = rows[people[9].pk], rows[people[0].pk]
    assert (top.r_score, top.f_score, top.m_score, top.segment) == (5, 5, 5, "champions")
    assert (bottom.r_score, bottom.f_score, bottom.m_score, bottom.segment) == (1, 1, 1, "hibernating")
    assert top.frequency == 10 and top.monetary == Decimal("10000.00") and top.recency_days == 10
    assert sorted(r.f_score for r in rows.values()) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    b = RFMBoundaries.objects.get()
    assert b.frequency == [2, 4, 6, 8] and b.members == 10 and len(b.recency) == 4


def test_refunded_and_old_orders(store_a, buy):
    gone = Member.objects.create(name="全退", home_store=store_a)
    old = Member.objects.create(name="老客", home_store=store_a)
    buy(gone, total="50", refunded="50")
    buy(old, days_ago=500, total="80")
    buy(None, total="999")  # pending buyer: not a member, not scored
    services.refresh_rfm()
    row = MemberRFM.objects.get()
    assert row.member_id == old.pk and row.frequency == 0 and row.monetary == 0 and row.recency_days >= 500


def test_segment_rule(store_a):
    from django.db import connection

    sql = services.SEGMENT_SQL.format(r="r", f="f")
    expected = {
        (5, 5): "champions",
        (4, 3): "loyal",
        (3, 3): "loyal",
        (5, 1): "new",
        (3, 2): "need_attention",
        (2, 4): "at_risk",
        (1, 1): "hibernating",
        (2, 2): "hibernating",
    }
    with connection.cursor() as cursor:
        for (r, f), label in expected.items():
            cursor.execute(f"SELECT {sql} FROM (SELECT %s AS r, %s AS f) x", [r, f])
            assert cursor.fetchone()[0] == label, (r, f)


def test_rescore_uses_stored_boundaries(store_a, buy):
    people = _population(store_a, buy)
    services.refresh_rfm()
    before = RFMBoundaries.objects.get()
    low = people[0]
    for _ in range(9):  # the weakest member becomes a frequent, recent, big spender
        buy(low, days_ago=0, total="2000")
    result = services.rescore_members(member_ids=[low.pk])
    assert result["scored"] == 1
    row = MemberRFM.objects.get(pk=low.pk)
    assert (row.r_score, row.f_score, row.m_score, row.segment) == (5, 5, 5, "champions")
    assert row.frequency == 10
    after = RFMBoundaries.objects.get()
    assert (after.frequency, after.computed_at) == (before.frequency, before.computed_at)  # no full recompute
    Order.objects.filter(member=low).update(refunded_amount=models_total())
    assert services.rescore_members(member_ids=[low.pk])["removed"] == 1
    assert not MemberRFM.objects.filter(pk=low.pk).exists()


def models_total():
    from django.db.models import F

    return F("total_amount")


def test_rescore_before_any_refresh_runs_the_full_one(store_a, buy):
    people = _population(store_a, buy, n=5)
    services.rescore_members(member_ids=[people[0].pk])
    assert MemberRFM.objects.count() == 5 and RFMBoundaries.objects.exists()


def test_segment_filters(store_a, store_b, buy, alice, carol):
    people = _population(store_a, buy)
    other = Member.objects.create(name="北京", home_store=store_b)
    for _ in range(12):
        buy(other, days_ago=0, total="5000", store=store_b)
    services.refresh_rfm()
    champions = {"all": [{"field": "rfm_segment", "op": "in", "value": ["champions"]}]}
    # 11 members in quintiles of 3, 2, 2, 2, 2: the Beijing member, 买家9, 买家8 and 买家7 score R≥4 F≥4.
    assert segment_queries.count(champions, alice) == 4
    assert segment_queries.count(champions, carol) == 3  # scoped to store A
    low_f = {"all": [{"field": "rfm_frequency", "op": "in", "value": [1]}]}
    assert set(segment_queries.member_queryset(low_f, alice).values_list("pk", flat=True)) == {
        people[0].pk,
        people[1].pk,
        people[2].pk,
    }
    not_r5 = {"all": [{"field": "rfm_recency", "op": "not_in", "value": [5]}]}
    assert segment_queries.count(not_r5, carol) == 9  # all of store A but 买家9


def test_hook_rescores_on_a_real_worker(celery_worker, store_a, buy):
    people = _population(store_a, buy, n=5)
    services.refresh_rfm()
    m = people[0]
    with transaction.atomic():
        orders = [buy(m, days_ago=0, total="9000") for _ in range(6)]
        hooks.orders_changed(order_ids=[o.pk for o in orders], member_ids=[m.pk])
    assert wait_for(lambda: MemberRFM.objects.filter(pk=m.pk, frequency=7).exists())
    assert MemberRFM.objects.get(pk=m.pk).segment == "champions"


def test_refresh_task_runs_on_a_worker(celery_worker, store_a, buy):
    from insights import tasks

    _population(store_a, buy, n=5)
    tasks.refresh_rfm.delay()
    assert wait_for(lambda: MemberRFM.objects.count() == 5)
