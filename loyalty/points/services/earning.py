"""Earning on orders, taking back after refunds, and points following orders and merged profiles
to their member (`sync_orders`, run after orders change)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from loyalty.orders import sql as orders_sql
from loyalty.points import reasons, tiering
from loyalty.points import sql as points_sql
from loyalty.points.models import EntryKind, PointsPolicy
from loyalty.points.services.ledger import (
    POINTS_EARNED,
    change_balance,
    consume,
    emit_entries,
    lock_balances,
    record_entry,
)
from loyalty.points.services.policy import currency_symbol, expiry_sql, policy_params, reporting_currency
from members import sql as members_sql
from scrm.actors import SystemActor

MAX_POINTS = 2_000_000_000  # lots are int columns
POLICY_ACTOR = SystemActor("points:policy")  # shown in the reader's language (scrm.actors.SYSTEM_LABELS)


@dataclass(frozen=True)
class SyncResult:
    lots_created: int = 0
    points_earned: int = 0
    clawbacks: int = 0
    points_clawed_back: int = 0
    lots_moved: int = 0


def _earn_sql(tier_sql: str) -> str:
    tier_join = f"LEFT JOIN ({tier_sql}) t ON t.member_id = o.member_id LEFT JOIN tier_mult tm ON tm.rank = t.rank"
    return f"""
    WITH cur(currency, factor, symbol) AS (
        SELECT * FROM unnest(%(currencies)s::text[], %(factors)s::numeric[], %(symbols)s::text[])
    ), cat(category, mult) AS (
        SELECT * FROM unnest(%(categories)s::text[], %(category_mults)s::numeric[])
    ), tier_mult(rank, mult) AS (
        SELECT * FROM unnest(%(ranks)s::int[], %(rank_mults)s::numeric[])
    ), o AS (
        SELECT o.id, o.member_id, o.external_id, o.placed_at, o.currency, o.total_amount - o.refunded_amount AS net,
               c.factor, c.symbol
        FROM {orders_sql.ORDER} o JOIN cur c ON c.currency = o.currency
        WHERE o.id = ANY(%(order_ids)s) AND o.member_id IS NOT NULL AND o.total_amount - o.refunded_amount > 0
          AND NOT EXISTS (SELECT 1 FROM {points_sql.POINT_LOT} l WHERE l.order_id = o.id AND l.source = 'order')
    ), lines AS (
        SELECT ol.order_id, sum(ol.amount - ol.refunded_amount) AS net,
               sum((ol.amount - ol.refunded_amount) * coalesce(cat.mult, 1)) AS weighted,
               string_agg(DISTINCT ol.category || ' ×' || trim_scale(cat.mult)::text, ', ')
                   FILTER (WHERE cat.mult <> 1) AS categories
        FROM {orders_sql.ORDER_LINE} ol LEFT JOIN cat ON cat.category = lower(btrim(ol.category))
        WHERE ol.order_id IN (SELECT id FROM o)
        GROUP BY ol.order_id
    ), calc AS (
        SELECT o.*, l.categories,
               CASE WHEN l.net > 0 THEN round(o.net * l.weighted / l.net, 2) ELSE o.net END AS counted,
               t.name AS tier_name, coalesce(tm.mult, 1) AS tier_mult,
               CASE WHEN extract(month FROM m.birthday) = extract(month FROM o.placed_at AT TIME ZONE %(tz)s)
                    THEN %(birthday)s::numeric ELSE 1 END AS birthday_mult
        FROM o JOIN {members_sql.MEMBER} m ON m.id = o.member_id
        LEFT JOIN lines l ON l.order_id = o.id
        {tier_join}
    ), pts AS (
        SELECT calc.*,
               least(floor(counted * factor * %(rate)s::numeric * tier_mult * birthday_mult), {MAX_POINTS})::int
                   AS points
        FROM calc
    ), ins AS (
        INSERT INTO {points_sql.POINT_LOT} (member_id, source, order_id, points, remaining, expired, clawed_back,
                                     basis_amount, reason, earned_at, expires_at)
        SELECT member_id, 'order', id, points, points, 0, 0, net, '', placed_at, {expiry_sql("placed_at")}
        FROM pts WHERE points > 0 ORDER BY id
        ON CONFLICT (order_id) WHERE source = 'order' DO NOTHING
        RETURNING id, member_id, order_id, points
    ), tot AS (
        SELECT member_id, sum(points) AS points FROM ins GROUP BY member_id
    ), bal AS (
        INSERT INTO {points_sql.MEMBER_POINTS}
            (member_id, balance, earned_total, redeemed_total, expired_total, updated_at)
        SELECT member_id, points, points, 0, 0, now() FROM tot ORDER BY member_id
        ON CONFLICT (member_id) DO UPDATE SET balance = {points_sql.MEMBER_POINTS}.balance + EXCLUDED.balance,
            earned_total = {points_sql.MEMBER_POINTS}.earned_total + EXCLUDED.earned_total, updated_at = now()
        RETURNING member_id, balance
    )
    INSERT INTO {points_sql.POINT_ENTRY} (member_id, kind, delta, balance_after, unrecovered, order_id,
                                          redemption_id, lots, explanation, reason_code, reason_params,
                                          actor_label, created_at)
    SELECT ins.member_id, 'earn', ins.points,
           bal.balance - coalesce(sum(ins.points) OVER (PARTITION BY ins.member_id ORDER BY ins.id DESC
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0),
           0, ins.order_id, NULL, jsonb_build_array(jsonb_build_array(ins.id, ins.points)),
           left(format(%(pattern)s, pts.external_id,
                  pts.symbol || to_char(pts.net, 'FM999999999990.00')
                  || CASE WHEN pts.counted <> pts.net
                          THEN ' → ' || pts.symbol || to_char(pts.counted, 'FM999999999990.00')
                          || ' (' || coalesce(pts.categories, '') || ')' ELSE '' END,
                  trim_scale(%(rate)s::numeric)::text, %(unit)s,
                  CASE WHEN pts.factor <> 1 THEN ' × ' || trim_scale(pts.factor)::text || ' (' || pts.currency || ')'
                       ELSE '' END
                  || CASE WHEN pts.tier_mult <> 1 THEN ' × ' || trim_scale(pts.tier_mult)::text || ' ('
                          || coalesce(pts.tier_name, '') || ')' ELSE '' END
                  || CASE WHEN pts.birthday_mult <> 1 THEN ' × ' || trim_scale(pts.birthday_mult)::text || ' ('
                          || %(birthday_label)s || ')' ELSE '' END,
                  ins.points), 500),
           'order',
           jsonb_build_object(
               'order', pts.external_id, 'amount', pts.symbol || to_char(pts.net, 'FM999999999990.00'),
               'counted', CASE WHEN pts.counted <> pts.net
                               THEN pts.symbol || to_char(pts.counted, 'FM999999999990.00') END,
               'categories', pts.categories, 'rate', trim_scale(%(rate)s::numeric)::text, 'unit', %(unit)s,
               'factor', CASE WHEN pts.factor <> 1 THEN trim_scale(pts.factor)::text END, 'currency', pts.currency,
               'tier_mult', CASE WHEN pts.tier_mult <> 1 THEN trim_scale(pts.tier_mult)::text END,
               'tier', pts.tier_name,
               'birthday_mult', CASE WHEN pts.birthday_mult <> 1 THEN trim_scale(pts.birthday_mult)::text END,
               'points', ins.points),
           %(actor)s, now()
    FROM ins JOIN pts ON pts.id = ins.order_id JOIN bal ON bal.member_id = ins.member_id
    ORDER BY ins.member_id, ins.id
    RETURNING id, delta
    """


def _earn(cursor, order_ids: list[int], policy: PointsPolicy) -> tuple[int, int]:
    currency = reporting_currency()
    rates = {currency: Decimal(1)}
    for code, rate in (policy.currency_rates or {}).items():
        if code in settings.SIYU_CURRENCIES and code != currency:
            rates[code] = Decimal(str(rate))
    categories = {str(k).strip().lower(): Decimal(str(v)) for k, v in (policy.category_multipliers or {}).items()}
    ranks = {int(k): Decimal(str(v)) for k, v in (policy.tier_multipliers or {}).items()}
    params = {
        **policy_params(policy),
        "order_ids": order_ids,
        "currencies": list(rates),
        "factors": list(rates.values()),
        "symbols": [currency_symbol(c) for c in rates],
        "categories": list(categories),
        "category_mults": list(categories.values()),
        "ranks": list(ranks),
        "rank_mults": list(ranks.values()),
        "birthday": policy.birthday_multiplier,
        "rate": policy.points_per_unit,
        "unit": currency_symbol(currency).strip(),
        # Positional placeholders: 1 order number, 2 amount, 3 points per unit, 4 currency, 5 multipliers, 6 points.
        "pattern": _("Order %1$s: %2$s × %3$s pt/%4$s%5$s = %6$s pts"),
        "birthday_label": _("birthday month"),
        "actor": POLICY_ACTOR.label,
    }
    cursor.execute(_earn_sql(tiering.tier_sql()), params)
    rows = cursor.fetchall()
    emit_entries(POINTS_EARNED, [entry_id for entry_id, _delta in rows])  # one INSERT ... SELECT for the batch
    deltas = [delta for _id, delta in rows]
    return len(deltas), sum(deltas)


def _clawback(cursor, order_ids: list[int]) -> tuple[int, int]:
    """Take back points of refunded orders in proportion to the refund (what the balance still
    holds; the rest is recorded as not recovered). Refunds are few: one small transaction step each."""
    cursor.execute(
        f"""
        SELECT l.id, l.member_id, o.id, o.external_id,
               l.points - floor(l.points * (o.total_amount - o.refunded_amount) / l.basis_amount)::int - l.clawed_back,
               o.total_amount - o.refunded_amount, o.currency
        FROM {points_sql.POINT_LOT} l JOIN {orders_sql.ORDER} o ON o.id = l.order_id
        WHERE l.order_id = ANY(%s) AND l.source = 'order' AND l.basis_amount > 0 AND l.member_id = o.member_id
          AND l.points - floor(l.points * (o.total_amount - o.refunded_amount) / l.basis_amount)::int > l.clawed_back
        ORDER BY l.member_id, l.id
        """,
        [order_ids],
    )
    claims = cursor.fetchall()
    if not claims:
        return 0, 0
    balances = lock_balances(cursor, [c[1] for c in claims])
    total = 0
    for lot_id, member_id, order_id, number, wanted, net, currency in claims:
        taken = min(wanted, balances[member_id])
        lots = consume(cursor, member_id, taken, prefer_lot=lot_id)
        balance = change_balance(cursor, member_id, -taken, earned_total=-taken)
        balances[member_id] = balance
        cursor.execute(
            f"UPDATE {points_sql.POINT_LOT} SET clawed_back = clawed_back + %s WHERE id = %s", [wanted, lot_id]
        )
        params = {"order": number, "net": f"{currency_symbol(currency)}{net:.2f}", "points": taken,
                  "unrecovered": wanted - taken}
        record_entry(
            member_id=member_id,
            kind=EntryKind.CLAWBACK,
            delta=-taken,
            balance_after=balance,
            unrecovered=wanted - taken,
            order_id=order_id,
            lots=lots,
            explanation=reasons.describe(reasons.REFUND, params)[:500],
            reason_code=reasons.REFUND,
            reason_params=params,
            actor=POLICY_ACTOR,
        )
        total += taken
    return len(claims), total


def _reason(code: str, params: dict) -> dict:
    """An entry's reason fields: the code and parameters, and the writer's wording of them."""
    return {"reason_code": code, "reason_params": params, "explanation": reasons.describe(code, params)[:500]}


def _transfer(cursor, rows, reason: str) -> int:
    """Move lots (their remaining points) to another member: rows of (lot id, from member, to member)."""
    if not rows:
        return 0
    lock_balances(cursor, [r[1] for r in rows] + [r[2] for r in rows])
    cursor.execute(
        f"""
        WITH moved AS (
            SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS m(lot_id, from_member, to_member)
        )
        UPDATE {points_sql.POINT_LOT} l SET member_id = moved.to_member FROM moved
        WHERE l.id = moved.lot_id AND l.member_id = moved.from_member
        RETURNING l.id, moved.from_member, moved.to_member, l.remaining
        """,
        [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
    )
    moved: dict[tuple[int, int], list[list[int]]] = {}
    for lot_id, src, dst, remaining in cursor.fetchall():
        moved.setdefault((src, dst), []).append([lot_id, remaining])
    system = POLICY_ACTOR
    for (src, dst), lots in sorted(moved.items()):
        points = sum(n for _lot, n in lots)
        if points == 0:
            continue
        after_src = change_balance(cursor, src, -points, earned_total=-points)
        after_dst = change_balance(cursor, dst, points, earned_total=points)
        record_entry(
            member_id=src,
            kind=EntryKind.TRANSFER_OUT,
            delta=-points,
            balance_after=after_src,
            lots=lots,
            **_reason(reasons.TRANSFER_OUT, {"points": points, "member": dst, "reason": reason}),
            actor=system,
        )
        record_entry(
            member_id=dst,
            kind=EntryKind.TRANSFER_IN,
            delta=points,
            balance_after=after_dst,
            lots=lots,
            **_reason(reasons.TRANSFER_IN, {"points": points, "member": src, "reason": reason}),
            actor=system,
        )
    return sum(len(v) for v in moved.values())


def _follow_orders_and_merges(cursor, order_ids: list[int], member_ids: list[int]) -> int:
    # An order moved to another member takes its lot along; a merged duplicate's lots go to the survivor.
    cursor.execute(
        f"""
        SELECT l.id, l.member_id, o.member_id
        FROM {points_sql.POINT_LOT} l JOIN {orders_sql.ORDER} o ON o.id = l.order_id
        WHERE l.order_id = ANY(%s) AND o.member_id IS NOT NULL AND l.member_id <> o.member_id
        ORDER BY l.id
        """,
        [order_ids],
    )
    moved = _transfer(cursor, cursor.fetchall(), reasons.ORDER_MOVED)
    if member_ids:
        cursor.execute(
            f"""
            SELECT l.id, l.member_id, m.merged_into_id
            FROM {points_sql.POINT_LOT} l JOIN {members_sql.MEMBER} m ON m.id = l.member_id
            WHERE l.member_id = ANY(%s) AND m.merged_into_id IS NOT NULL AND l.remaining > 0
            ORDER BY l.id
            """,
            [member_ids],
        )
        moved += _transfer(cursor, cursor.fetchall(), reasons.MERGED)
    return moved


def sync_orders(*, order_ids, member_ids=()) -> SyncResult:
    """Bring points in line with these orders: earn on orders not yet counted, take back after
    refunds, follow orders (and merged profiles) to their member. Idempotent: a rerun changes nothing."""
    order_ids = sorted({int(i) for i in order_ids})
    member_ids = sorted({int(i) for i in member_ids if i is not None})
    policy = PointsPolicy.current()
    with transaction.atomic(), connection.cursor() as cursor:
        moved = _follow_orders_and_merges(cursor, order_ids, member_ids)
        lots, earned = _earn(cursor, order_ids, policy) if (policy.enabled and order_ids) else (0, 0)
        claws, clawed = _clawback(cursor, order_ids) if order_ids else (0, 0)
    return SyncResult(
        lots_created=lots, points_earned=earned, clawbacks=claws, points_clawed_back=clawed, lots_moved=moved
    )
