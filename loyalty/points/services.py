"""Every write to points: earning on orders (and taking back after refunds), expiry, redemption and
its cancellation, manual adjustments, the policy and the rewards catalogue.

Locking: every write to a member's points first locks that member's `MemberPoints` row (members in
id order), then touches their lots, then the reward row. Earning inserts new lots before taking the
row lock, which cannot deadlock because it never updates existing lots. The CHECK balance >= 0 on
`MemberPoints` is the last guard: a conditional UPDATE ... WHERE balance >= cost refuses an overspend
even if a path forgot the lock.

Cancelling a redemption puts its points back into the lots they were taken from, keeping those lots'
expiry dates; a lot whose date has passed meanwhile expires again at once, exactly as if the points
had never been spent. (Lots that have moved to another profile in a merge are replaced by a new lot.)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.points import tiering
from loyalty.points.errors import InsufficientPoints, RewardUnavailable
from loyalty.points.models import (
    EntryKind,
    ExpiryMode,
    LotSource,
    MemberPoints,
    PointEntry,
    PointLot,
    PointsPolicy,
    Redemption,
    RedemptionStatus,
    Reward,
)
from members.models import Member
from scrm.actors import SystemActor, actor_label, actor_user
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.scoping import scope

MAX_ADJUSTMENT = 10_000_000
MAX_POINTS = 2_000_000_000  # lots are int columns
EXPIRY_BATCH_MEMBERS = 5_000

CURRENCY_SYMBOLS = {
    "CNY": "¥",
    "RMB": "¥",
    "HKD": "HK$",
    "MOP": "MOP$",
    "TWD": "NT$",
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "JP¥",
    "SGD": "S$",
}


def currency_symbol(code: str) -> str:
    return CURRENCY_SYMBOLS.get(code, f"{code} ")


def reporting_currency() -> str:
    return settings.SIYU_CURRENCIES[0]


def _is_operator(actor) -> bool:
    return (
        isinstance(actor, SystemActor)
        or getattr(actor, "is_operator", False)
        or (getattr(actor, "api_key", None) is not None)
    )


def _require_operator(actor) -> None:
    # API keys reach here only with the scope the view demands; store roles never do.
    if not _is_operator(actor):
        raise Forbidden(_("Only operators may do this."))


def _expiry_sql(column: str) -> str:
    """SQL for the expiry of points earned at `column`, from the policy parameters in the query."""
    return (
        f"CASE %(expiry_mode)s WHEN 'never' THEN NULL::timestamptz "
        f"WHEN 'after_days' THEN {column} + make_interval(days => %(expiry_days)s) "
        f"ELSE make_timestamptz(extract(year FROM {column} AT TIME ZONE %(tz)s)::int + %(expiry_years)s + 1, "
        f"1, 1, 0, 0, 0, %(tz)s) END"
    )


def _policy_params(policy: PointsPolicy) -> dict:
    return {
        "expiry_mode": policy.expiry_mode,
        "expiry_days": int(policy.expiry_days),
        "expiry_years": int(policy.expiry_years),
        "tz": settings.TIME_ZONE,
    }


# --- Locks and the two primitives every change is built from ---------------------------------------


def _lock_balances(cursor, member_ids) -> dict[int, int]:
    """Create missing balance rows and lock them in member id order; {member_id: balance}."""
    ids = sorted(set(member_ids))
    cursor.execute(
        "INSERT INTO points_memberpoints (member_id, balance, earned_total, redeemed_total, expired_total, "
        "updated_at) SELECT id, 0, 0, 0, 0, now() FROM unnest(%s::bigint[]) AS id ORDER BY id "
        "ON CONFLICT (member_id) DO NOTHING",
        [ids],
    )
    cursor.execute(
        "SELECT member_id, balance FROM points_memberpoints WHERE member_id = ANY(%s) ORDER BY member_id FOR UPDATE",
        [ids],
    )
    return dict(cursor.fetchall())


def _consume(cursor, member_id: int, amount: int, *, prefer_lot: int | None = None) -> list[list[int]]:
    """Take `amount` points from the member's lots, the preferred lot first, then the soonest to
    expire (oldest earned first among equals). The caller holds the member's balance lock and has
    checked the balance covers `amount`. Returns [[lot id, points taken], ...]."""
    if amount <= 0:
        return []
    cursor.execute(
        """
        WITH c AS (
            SELECT id, remaining,
                   sum(remaining) OVER (ORDER BY (id = %(prefer)s) DESC, expires_at ASC NULLS LAST, earned_at, id)
                       AS upto
            FROM points_pointlot WHERE member_id = %(member)s AND remaining > 0
        ), take AS (
            SELECT id, least(remaining, %(amount)s - (upto - remaining)) AS taken
            FROM c WHERE upto - remaining < %(amount)s
        )
        UPDATE points_pointlot l SET remaining = l.remaining - take.taken
        FROM take WHERE l.id = take.id
        RETURNING l.id, take.taken, l.expires_at, l.earned_at
        """,
        {"member": member_id, "amount": amount, "prefer": prefer_lot or 0},
    )
    rows = sorted(cursor.fetchall(), key=lambda r: (r[0] != prefer_lot, r[2] is None, r[2], r[3], r[0]))
    taken = sum(r[1] for r in rows)
    if taken != amount:  # the balance row and the lots disagree: never write a half-change
        raise Conflict(
            _("The member's points lots do not cover their balance; nothing was changed."),
            details={"points": [_("%(n)s of %(want)s points found in lots.") % {"n": taken, "want": amount}]},
        )
    return [[r[0], int(r[1])] for r in rows]


def _change_balance(cursor, member_id: int, delta: int, **totals) -> int:
    """Apply `delta` to a locked balance row (refusing to go below zero) and bump lifetime totals."""
    sets = ", ".join(f"{name} = {name} + %({name})s" for name in totals)
    cursor.execute(
        "UPDATE points_memberpoints SET balance = balance + %(delta)s, updated_at = now()"
        f"{', ' + sets if sets else ''} "
        "WHERE member_id = %(member)s AND balance + %(delta)s >= 0 RETURNING balance",
        {"member": member_id, "delta": delta, **totals},
    )
    row = cursor.fetchone()
    if row is None:
        raise InsufficientPoints(details={"points": [_("The balance cannot cover %(n)s points.") % {"n": -delta}]})
    return row[0]


def _entry(**fields) -> PointEntry:
    actor = fields.pop("actor", None)
    return PointEntry.objects.create(actor=actor_user(actor), actor_label=actor_label(actor), **fields)


# --- Earning, refunds and orders moving between members ---------------------------------------------


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
        FROM orders_order o JOIN cur c ON c.currency = o.currency
        WHERE o.id = ANY(%(order_ids)s) AND o.member_id IS NOT NULL AND o.total_amount - o.refunded_amount > 0
          AND NOT EXISTS (SELECT 1 FROM points_pointlot l WHERE l.order_id = o.id AND l.source = 'order')
    ), lines AS (
        SELECT ol.order_id, sum(ol.amount - ol.refunded_amount) AS net,
               sum((ol.amount - ol.refunded_amount) * coalesce(cat.mult, 1)) AS weighted,
               string_agg(DISTINCT ol.category || ' ×' || trim_scale(cat.mult)::text, ', ')
                   FILTER (WHERE cat.mult <> 1) AS categories
        FROM orders_orderline ol LEFT JOIN cat ON cat.category = lower(btrim(ol.category))
        WHERE ol.order_id IN (SELECT id FROM o)
        GROUP BY ol.order_id
    ), calc AS (
        SELECT o.*, l.categories,
               CASE WHEN l.net > 0 THEN round(o.net * l.weighted / l.net, 2) ELSE o.net END AS counted,
               t.name AS tier_name, coalesce(tm.mult, 1) AS tier_mult,
               CASE WHEN extract(month FROM m.birthday) = extract(month FROM o.placed_at AT TIME ZONE %(tz)s)
                    THEN %(birthday)s::numeric ELSE 1 END AS birthday_mult
        FROM o JOIN members_member m ON m.id = o.member_id
        LEFT JOIN lines l ON l.order_id = o.id
        {tier_join}
    ), pts AS (
        SELECT calc.*,
               least(floor(counted * factor * %(rate)s::numeric * tier_mult * birthday_mult), {MAX_POINTS})::int
                   AS points
        FROM calc
    ), ins AS (
        INSERT INTO points_pointlot (member_id, source, order_id, points, remaining, expired, clawed_back,
                                     basis_amount, reason, earned_at, expires_at)
        SELECT member_id, 'order', id, points, points, 0, 0, net, '', placed_at, {_expiry_sql("placed_at")}
        FROM pts WHERE points > 0 ORDER BY id
        ON CONFLICT (order_id) WHERE source = 'order' DO NOTHING
        RETURNING id, member_id, order_id, points
    ), tot AS (
        SELECT member_id, sum(points) AS points FROM ins GROUP BY member_id
    ), bal AS (
        INSERT INTO points_memberpoints (member_id, balance, earned_total, redeemed_total, expired_total, updated_at)
        SELECT member_id, points, points, 0, 0, now() FROM tot ORDER BY member_id
        ON CONFLICT (member_id) DO UPDATE SET balance = points_memberpoints.balance + EXCLUDED.balance,
            earned_total = points_memberpoints.earned_total + EXCLUDED.earned_total, updated_at = now()
        RETURNING member_id, balance
    )
    INSERT INTO points_pointentry (member_id, kind, delta, balance_after, unrecovered, order_id, redemption_id, lots,
                                   explanation, actor_label, created_at)
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
           %(actor)s, now()
    FROM ins JOIN pts ON pts.id = ins.order_id JOIN bal ON bal.member_id = ins.member_id
    ORDER BY ins.member_id, ins.id
    RETURNING delta
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
        **_policy_params(policy),
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
        "actor": _("Points policy"),
    }
    cursor.execute(_earn_sql(tiering.tier_sql()), params)
    deltas = [row[0] for row in cursor.fetchall()]
    return len(deltas), sum(deltas)


def _clawback(cursor, order_ids: list[int]) -> tuple[int, int]:
    """Take back points of refunded orders in proportion to the refund (what the balance still
    holds; the rest is recorded as not recovered). Refunds are few: one small transaction step each."""
    cursor.execute(
        """
        SELECT l.id, l.member_id, o.id, o.external_id,
               l.points - floor(l.points * (o.total_amount - o.refunded_amount) / l.basis_amount)::int - l.clawed_back,
               o.total_amount - o.refunded_amount, o.currency
        FROM points_pointlot l JOIN orders_order o ON o.id = l.order_id
        WHERE l.order_id = ANY(%s) AND l.source = 'order' AND l.basis_amount > 0 AND l.member_id = o.member_id
          AND l.points - floor(l.points * (o.total_amount - o.refunded_amount) / l.basis_amount)::int > l.clawed_back
        ORDER BY l.member_id, l.id
        """,
        [order_ids],
    )
    claims = cursor.fetchall()
    if not claims:
        return 0, 0
    balances = _lock_balances(cursor, [c[1] for c in claims])
    total = 0
    for lot_id, member_id, order_id, number, wanted, net, currency in claims:
        taken = min(wanted, balances[member_id])
        lots = _consume(cursor, member_id, taken, prefer_lot=lot_id)
        balance = _change_balance(cursor, member_id, -taken, earned_total=-taken)
        balances[member_id] = balance
        cursor.execute("UPDATE points_pointlot SET clawed_back = clawed_back + %s WHERE id = %s", [wanted, lot_id])
        text = _("Refund on order %(order)s (net now %(net)s): %(points)s pts taken back") % {
            "order": number,
            "net": f"{currency_symbol(currency)}{net:.2f}",
            "points": taken,
        }
        if taken < wanted:
            text += _("; %(n)s pts could not be taken back (already spent)") % {"n": wanted - taken}
        _entry(
            member_id=member_id,
            kind=EntryKind.CLAWBACK,
            delta=-taken,
            balance_after=balance,
            unrecovered=wanted - taken,
            order_id=order_id,
            lots=lots,
            explanation=text[:500],
            actor=SystemActor(_("Points policy")),
        )
        total += taken
    return len(claims), total


def _transfer(cursor, rows, reason: str) -> int:
    """Move lots (their remaining points) to another member: rows of (lot id, from member, to member)."""
    if not rows:
        return 0
    _lock_balances(cursor, [r[1] for r in rows] + [r[2] for r in rows])
    cursor.execute(
        """
        WITH moved AS (
            SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS m(lot_id, from_member, to_member)
        )
        UPDATE points_pointlot l SET member_id = moved.to_member FROM moved
        WHERE l.id = moved.lot_id AND l.member_id = moved.from_member
        RETURNING l.id, moved.from_member, moved.to_member, l.remaining
        """,
        [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
    )
    moved: dict[tuple[int, int], list[list[int]]] = {}
    for lot_id, src, dst, remaining in cursor.fetchall():
        moved.setdefault((src, dst), []).append([lot_id, remaining])
    system = SystemActor(_("Points policy"))
    for (src, dst), lots in sorted(moved.items()):
        points = sum(n for _lot, n in lots)
        if points == 0:
            continue
        after_src = _change_balance(cursor, src, -points, earned_total=-points)
        after_dst = _change_balance(cursor, dst, points, earned_total=points)
        _entry(
            member_id=src,
            kind=EntryKind.TRANSFER_OUT,
            delta=-points,
            balance_after=after_src,
            lots=lots,
            explanation=(
                _("%(points)s pts moved to member %(member)s: %(reason)s")
                % {"points": points, "member": dst, "reason": reason}
            )[:500],
            actor=system,
        )
        _entry(
            member_id=dst,
            kind=EntryKind.TRANSFER_IN,
            delta=points,
            balance_after=after_dst,
            lots=lots,
            explanation=(
                _("%(points)s pts moved from member %(member)s: %(reason)s")
                % {"points": points, "member": src, "reason": reason}
            )[:500],
            actor=system,
        )
    return sum(len(v) for v in moved.values())


def _follow_orders_and_merges(cursor, order_ids: list[int], member_ids: list[int]) -> int:
    # An order moved to another member takes its lot along; a merged duplicate's lots go to the survivor.
    cursor.execute(
        """
        SELECT l.id, l.member_id, o.member_id FROM points_pointlot l JOIN orders_order o ON o.id = l.order_id
        WHERE l.order_id = ANY(%s) AND o.member_id IS NOT NULL AND l.member_id <> o.member_id
        ORDER BY l.id
        """,
        [order_ids],
    )
    moved = _transfer(cursor, cursor.fetchall(), _("the order now belongs to this member"))
    if member_ids:
        cursor.execute(
            """
            SELECT l.id, l.member_id, m.merged_into_id
            FROM points_pointlot l JOIN members_member m ON m.id = l.member_id
            WHERE l.member_id = ANY(%s) AND m.merged_into_id IS NOT NULL AND l.remaining > 0
            ORDER BY l.id
            """,
            [member_ids],
        )
        moved += _transfer(cursor, cursor.fetchall(), _("duplicate profile merged"))
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


# --- Expiry ------------------------------------------------------------------------------------------


def _expire_locked(cursor, member_ids: list[int], now) -> int:
    """Expire due lots of members whose balance rows the caller has locked; one entry per member."""
    cursor.execute(
        """
        WITH due AS (
            SELECT id, member_id, remaining FROM points_pointlot
            WHERE member_id = ANY(%(members)s) AND remaining > 0 AND expires_at <= %(now)s
        ), upd AS (
            UPDATE points_pointlot l SET remaining = 0, expired = l.expired + due.remaining
            FROM due WHERE l.id = due.id
            RETURNING l.id, l.member_id, due.remaining AS taken, l.expires_at
        ), tot AS (
            SELECT member_id, sum(taken) AS points, count(*) AS lots, max(expires_at) AS last_due,
                   jsonb_agg(jsonb_build_array(id, taken) ORDER BY id) AS lot_list
            FROM upd GROUP BY member_id
        ), bal AS (
            UPDATE points_memberpoints mp SET balance = mp.balance - tot.points,
                expired_total = mp.expired_total + tot.points, updated_at = now()
            FROM tot WHERE mp.member_id = tot.member_id
            RETURNING mp.member_id, mp.balance
        )
        INSERT INTO points_pointentry (member_id, kind, delta, balance_after, unrecovered, order_id, redemption_id,
                                       lots, explanation, actor_label, created_at)
        SELECT tot.member_id, 'expire', -tot.points, bal.balance, 0, NULL, NULL, tot.lot_list,
               format(%(pattern)s, tot.points, tot.lots,
                      to_char((tot.last_due AT TIME ZONE %(tz)s) - interval '1 second', 'YYYY-MM-DD')),
               %(actor)s, %(now)s
        FROM tot JOIN bal ON bal.member_id = tot.member_id
        RETURNING delta
        """,
        {
            "members": member_ids,
            "now": now,
            "tz": settings.TIME_ZONE,
            # Placeholders: 1 points, 2 number of lots, 3 the last day the points were valid.
            "pattern": _("%1$s pts expired (%2$s lot(s), valid until %3$s)"),
            "actor": _("Points expiry"),
        },
    )
    return -sum(row[0] for row in cursor.fetchall())


def expire_due_points(*, now=None, batch_members: int = EXPIRY_BATCH_MEMBERS) -> int:
    """Expire every lot whose date has passed, a batch of members per transaction. Returns points expired."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT member_id FROM points_pointlot WHERE remaining > 0 AND expires_at <= %s "
                "ORDER BY member_id LIMIT %s",
                [now, batch_members],
            )
            member_ids = [row[0] for row in cursor.fetchall()]
            if not member_ids:
                return total
            # Skip members another transaction holds (a redemption at the till); the next run takes them.
            cursor.execute(
                "SELECT member_id FROM points_memberpoints WHERE member_id = ANY(%s) ORDER BY member_id "
                "FOR UPDATE SKIP LOCKED",
                [member_ids],
            )
            locked = [row[0] for row in cursor.fetchall()]
            total += _expire_locked(cursor, locked, now)
        if len(member_ids) < batch_members or not locked:
            return total


# --- Redemption, cancellation, adjustments ------------------------------------------------------------


def _check_reward(reward: Reward, member: Member, now) -> None:
    if not reward.is_active:
        raise RewardUnavailable(
            _("%(reward)s is not active.") % {"reward": reward.name},
            code="reward_inactive",
            details={"reward": [_("Not active.")]},
        )
    if (reward.starts_at and now < reward.starts_at) or (reward.ends_at and now >= reward.ends_at):
        raise RewardUnavailable(
            _("%(reward)s is not available at this time.") % {"reward": reward.name},
            code="reward_not_in_window",
            details={"reward": [_("Outside its availability window.")]},
        )
    if reward.stock is not None and reward.stock <= 0:
        raise RewardUnavailable(
            _("%(reward)s is out of stock.") % {"reward": reward.name},
            code="out_of_stock",
            details={"reward": [_("Out of stock.")]},
        )
    if reward.min_tier_rank:
        rank, name = tiering.rank_of(member.pk)
        if (rank or 0) < reward.min_tier_rank:
            raise RewardUnavailable(
                _("%(reward)s is for members of tier rank %(rank)s and up.")
                % {"reward": reward.name, "rank": reward.min_tier_rank},
                code="tier_too_low",
                details={
                    "reward": [
                        _("The member's tier (%(tier)s) is below the rank this reward needs.")
                        % {"tier": name or _("none")}
                    ]
                },
            )


@transaction.atomic
def redeem(*, member: Member, reward: Reward, actor, note: str = "") -> Redemption:
    """Spend a reward's points (oldest-expiring lots first) and take one from its stock. Refused with
    a clear error and nothing changed when the programme is off, the reward is unavailable, the
    member's limit is reached or the balance is short."""
    if not PointsPolicy.current().enabled:
        raise Conflict(_("The points programme is switched off."), code="points_disabled")
    if not member.is_live:
        raise NotInScope(details={"member": [_("This profile was merged or erased.")]})
    now = timezone.now()
    reward = Reward.objects.get(pk=reward.pk)
    with connection.cursor() as cursor:
        _check_reward(reward, member, now)
        balance = _lock_balances(cursor, [member.pk])[member.pk]
        if _expire_locked(cursor, [member.pk], now):
            balance = MemberPoints.objects.get(pk=member.pk).balance
        if reward.per_member_limit is not None:
            used = Redemption.objects.filter(member=member, reward=reward, status=RedemptionStatus.REDEEMED).count()
            if used >= reward.per_member_limit:
                raise RewardUnavailable(
                    _("%(member)s has already redeemed %(reward)s %(n)s time(s), the limit per member.")
                    % {"member": member.name, "reward": reward.name, "n": used},
                    code="limit_reached",
                    details={"reward": [_("Limit per member reached.")]},
                )
        cost = reward.points_cost
        if balance < cost:
            raise InsufficientPoints(
                _("%(reward)s needs %(cost)s pts; the balance is %(balance)s pts.")
                % {"reward": reward.name, "cost": cost, "balance": balance},
                details={"points": [_("Needs %(cost)s, has %(balance)s.") % {"cost": cost, "balance": balance}]},
            )
        balance = _change_balance(cursor, member.pk, -cost, redeemed_total=cost)
        cursor.execute(
            "UPDATE points_reward SET stock = stock - 1, updated_at = now() WHERE id = %s AND stock IS NOT NULL "
            "AND stock > 0 RETURNING stock",
            [reward.pk],
        )
        if reward.stock is not None and cursor.fetchone() is None:
            raise RewardUnavailable(
                _("%(reward)s is out of stock.") % {"reward": reward.name},
                code="out_of_stock",
                details={"reward": [_("Out of stock.")]},
            )
        lots = _consume(cursor, member.pk, cost)
    user = actor_user(actor)
    redemption = Redemption.objects.create(
        member=member,
        reward=reward,
        points=cost,
        note=note[:200],
        created_by=user,
        created_by_label=actor_label(actor),
        store=getattr(actor, "store", None) if user else None,
        created_at=now,
    )
    _entry(
        member=member,
        kind=EntryKind.REDEEM,
        delta=-cost,
        balance_after=balance,
        redemption=redemption,
        lots=lots,
        explanation=(
            _("Redeemed %(reward)s (%(kind)s): %(cost)s pts")
            % {"reward": reward.name, "kind": reward.get_kind_display(), "cost": cost}
        )[:500],
        actor=actor,
        created_at=now,
    )
    return redemption


@transaction.atomic
def cancel_redemption(*, redemption: Redemption, actor, reason: str = "") -> Redemption:
    """Give the points back (into the lots they came from) and the reward back to its stock."""
    redemption = Redemption.objects.select_for_update().select_related("reward").get(pk=redemption.pk)
    if redemption.status == RedemptionStatus.CANCELLED:
        raise Conflict(
            _("This redemption was already cancelled."),
            code="already_cancelled",
            details={"redemption": [_("Already cancelled.")]},
        )
    member_id = redemption.member_id
    now = timezone.now()
    spent = PointEntry.objects.filter(redemption=redemption, kind=EntryKind.REDEEM).values_list("lots", flat=True)
    taken = [pair for lots in spent for pair in lots]
    with connection.cursor() as cursor:
        _lock_balances(cursor, [member_id])
        cursor.execute(
            "UPDATE points_reward SET stock = stock + 1, updated_at = now() WHERE id = %s AND stock IS NOT NULL",
            [redemption.reward_id],
        )
        restored: list[list[int]] = []
        if taken:
            cursor.execute(
                """
                WITH back AS (SELECT * FROM unnest(%s::bigint[], %s::int[]) AS b(lot_id, points))
                UPDATE points_pointlot l SET remaining = l.remaining + back.points FROM back
                WHERE l.id = back.lot_id AND l.member_id = %s AND l.remaining + back.points <= l.points
                RETURNING l.id, back.points
                """,
                [[p[0] for p in taken], [p[1] for p in taken], member_id],
            )
            restored = [[r[0], r[1]] for r in cursor.fetchall()]
        missing = redemption.points - sum(p for _lot, p in restored)
        if missing > 0:
            policy = PointsPolicy.current()
            lot = PointLot.objects.create(
                member_id=member_id,
                source=LotSource.REDEMPTION_CANCELLED,
                points=missing,
                remaining=missing,
                reason=_("Cancelled redemption %(id)s") % {"id": redemption.pk},
                earned_at=now,
                expires_at=policy.expires_at(now),
            )
            restored.append([lot.pk, missing])
        balance = _change_balance(cursor, member_id, redemption.points, redeemed_total=-redemption.points)
        redemption.status = RedemptionStatus.CANCELLED
        redemption.cancelled_at = now
        redemption.cancelled_by = actor_user(actor)
        redemption.cancel_reason = reason[:200]
        redemption.save(update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason"])
        text = _("Redemption of %(reward)s cancelled: %(points)s pts returned") % {
            "reward": redemption.reward.name,
            "points": redemption.points,
        }
        if reason:
            text += f" ({reason})"
        _entry(
            member_id=member_id,
            kind=EntryKind.REDEMPTION_CANCELLED,
            delta=redemption.points,
            balance_after=balance,
            redemption=redemption,
            lots=restored,
            explanation=text[:500],
            actor=actor,
            created_at=now,
        )
        # Points whose lot's date passed while they were spent expire again now.
        _expire_locked(cursor, [member_id], now)
    return redemption


def _parse_points(value) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise ValueError


@transaction.atomic
def adjust_points(*, member: Member, points, reason: str, actor) -> PointEntry:
    """An operator adds (a new lot, expiring by the policy) or removes (oldest-expiring first) points."""
    _require_operator(actor)
    errors = {}
    try:
        points = _parse_points(points)
        if points == 0 or abs(points) > MAX_ADJUSTMENT:
            errors["points"] = [
                _("A whole number of points other than 0, at most %(max)s either way.") % {"max": MAX_ADJUSTMENT}
            ]
    except ValueError:
        errors["points"] = [_("A whole number of points, e.g. 200 or -50.")]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Say why: the member sees this in their history.")]
    elif len(reason) > 300:
        errors["reason"] = [_("At most 300 characters.")]
    if errors:
        raise InvalidInput(details=errors)
    if not member.is_live:
        raise NotInScope(details={"member": [_("This profile was merged or erased.")]})
    now = timezone.now()
    with connection.cursor() as cursor:
        balance = _lock_balances(cursor, [member.pk])[member.pk]
        _expire_locked(cursor, [member.pk], now)
        if points > 0:
            lot = PointLot.objects.create(
                member=member,
                source=LotSource.ADJUSTMENT,
                points=points,
                remaining=points,
                reason=reason,
                earned_at=now,
                expires_at=PointsPolicy.current().expires_at(now),
            )
            lots = [[lot.pk, points]]
            balance = _change_balance(cursor, member.pk, points, earned_total=points)
        else:
            balance = MemberPoints.objects.get(pk=member.pk).balance
            if balance < -points:
                raise InsufficientPoints(
                    _("Cannot remove %(n)s pts: the balance is %(balance)s pts.") % {"n": -points, "balance": balance},
                    details={"points": [_("At most %(balance)s can be removed.") % {"balance": balance}]},
                )
            balance = _change_balance(cursor, member.pk, points)
            lots = _consume(cursor, member.pk, -points)
    return _entry(
        member=member,
        kind=EntryKind.ADJUST,
        delta=points,
        balance_after=balance,
        lots=lots,
        explanation=(_("Adjusted by %(points)+d pts: %(reason)s") % {"points": points, "reason": reason})[:500],
        actor=actor,
        created_at=now,
    )


# --- Policy and rewards catalogue -----------------------------------------------------------------------


def _decimal(value, *, minimum: Decimal, field: str, errors: dict, key=None) -> Decimal | None:
    try:
        number = Decimal(str(value))
        if not number.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors.setdefault(field, []).append(
            _("%(key)s: expected a number.") % {"key": key} if key is not None else _("Expected a number.")
        )
        return None
    if number < minimum or number > 1000:
        message = _("Between %(min)s and 1000.") % {"min": minimum}
        errors.setdefault(field, []).append(f"{key}: {message}" if key is not None else message)
        return None
    return number


def _number_map(raw, *, field: str, errors: dict, minimum: Decimal, key_check) -> dict:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        errors[field] = [_("Expected an object of name: multiplier.")]
        return {}
    cleaned = {}
    for key, value in raw.items():
        problem = key_check(key)
        if problem:
            errors.setdefault(field, []).append(f"{key}: {problem}")
            continue
        number = _decimal(value, minimum=minimum, field=field, errors=errors, key=key)
        if number is not None:
            cleaned[str(key).strip()] = float(number)
    return cleaned


def _rank_problem(key):
    try:
        return None if int(str(key)) >= 1 else _("ranks start at 1")
    except ValueError:
        return _("a tier rank is a whole number (1 = the first level)")


def _currency_problem(key):
    if key == reporting_currency():
        return _("the reporting currency always counts 1:1")
    if key not in settings.SIYU_CURRENCIES:
        return _("not a currency the brand uses (%(list)s)") % {"list": ", ".join(settings.SIYU_CURRENCIES)}
    return None


def _category_problem(key):
    return None if str(key).strip() else _("a category needs a name")


POLICY_FIELDS = (
    "enabled",
    "points_per_unit",
    "currency_rates",
    "tier_multipliers",
    "category_multipliers",
    "birthday_multiplier",
    "expiry_mode",
    "expiry_days",
    "expiry_years",
    "point_value",
)


@transaction.atomic
def update_policy(*, actor, values: dict) -> PointsPolicy:
    """Change the earning and expiry rules (operators). All fields are checked first; on any error
    nothing changes. Points already earned keep their amounts and expiry dates."""
    _require_operator(actor)
    unknown = sorted(set(values) - set(POLICY_FIELDS))
    if unknown:
        raise InvalidInput(details={name: [_("Unknown field.")] for name in unknown})
    policy = PointsPolicy.objects.select_for_update().filter(pk=1).first() or PointsPolicy(pk=1)
    errors: dict = {}
    cleaned: dict = {}
    for name, value in values.items():
        if name == "enabled":
            if not isinstance(value, bool):
                errors[name] = [_("Expected true or false.")]
            cleaned[name] = value
        elif name in ("points_per_unit", "point_value"):
            cleaned[name] = _decimal(value, minimum=Decimal(0), field=name, errors=errors)
        elif name == "birthday_multiplier":
            cleaned[name] = _decimal(value, minimum=Decimal(1), field=name, errors=errors)
        elif name == "expiry_mode":
            if value not in ExpiryMode.values:
                errors[name] = [_("One of: %(list)s.") % {"list": ", ".join(ExpiryMode.values)}]
            cleaned[name] = value
        elif name in ("expiry_days", "expiry_years"):
            low, high = (1, 36500) if name == "expiry_days" else (0, 100)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors[name] = [_("A whole number from %(low)s to %(high)s.") % {"low": low, "high": high}]
            cleaned[name] = value
        elif name == "currency_rates":
            cleaned[name] = _number_map(
                value, field=name, errors=errors, minimum=Decimal("0.0001"), key_check=_currency_problem
            )
        elif name == "tier_multipliers":
            cleaned[name] = {
                str(int(k)): v
                for k, v in _number_map(
                    value, field=name, errors=errors, minimum=Decimal(0), key_check=_rank_problem
                ).items()
            }
        elif name == "category_multipliers":
            cleaned[name] = {
                k.lower(): v
                for k, v in _number_map(
                    value, field=name, errors=errors, minimum=Decimal(0), key_check=_category_problem
                ).items()
            }
    if errors:
        raise InvalidInput(details=errors)
    for name, value in cleaned.items():
        setattr(policy, name, value)
    policy.updated_by = actor_user(actor)
    policy.save()
    return policy


REWARD_FIELDS = (
    "name",
    "kind",
    "points_cost",
    "stock",
    "per_member_limit",
    "is_active",
    "starts_at",
    "ends_at",
    "min_tier_rank",
    "description",
    "image_url",
)


def _validation_details(exc: ValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


@transaction.atomic
def save_reward(*, actor, values: dict, reward: Reward | None = None) -> Reward:
    """Create or change a reward of the catalogue (operators); every field is checked, all or nothing."""
    _require_operator(actor)
    unknown = sorted(set(values) - set(REWARD_FIELDS))
    if unknown:
        raise InvalidInput(details={name: [_("Unknown field.")] for name in unknown})
    reward = reward if reward is not None else Reward()
    if reward.pk:
        reward = Reward.objects.select_for_update().get(pk=reward.pk)
    for name, value in values.items():
        setattr(reward, name, value)
    details: dict = {}
    try:
        reward.full_clean(validate_constraints=False)
    except ValidationError as exc:
        details = _validation_details(exc)
    if reward.starts_at and reward.ends_at and reward.ends_at <= reward.starts_at:
        details.setdefault("ends_at", []).append(_("Must be after the start of availability."))
    if details:
        raise InvalidInput(details=details)
    reward.save()
    return reward


@transaction.atomic
def delete_reward(*, actor, reward: Reward) -> None:
    _require_operator(actor)
    if Redemption.objects.filter(reward=reward).exists():
        raise Conflict(
            _("%(reward)s has redemptions; make it inactive instead.") % {"reward": reward.name},
            code="reward_in_use",
            details={"reward": [_("Has redemptions.")]},
        )
    reward.delete()


def member_for(actor, member_id) -> Member:
    """A live member the actor may reach, or a 404-style error naming the field."""
    member = scope(Member.live.all(), actor).filter(pk=member_id).first() if str(member_id).isdigit() else None
    if member is None:
        raise NotInScope(details={"member": [_("Unknown member %(id)s.") % {"id": member_id}]})
    return member


def reward_for(reward_id) -> Reward:
    reward = Reward.objects.filter(pk=reward_id).first() if str(reward_id).isdigit() else None
    if reward is None:
        raise InvalidInput(details={"reward": [_("Unknown reward %(id)s.") % {"id": reward_id}]})
    return reward
