"""Demo orders for the demo chocolate brand: 18 months of purchases by the demo members, skewed the
way a real brand's are (most members buy 0 to 3 times, a few buy every month), from the stores'
tills, Tmall, the mini-program, Douyin and JD; product categories on every line; some refunds; and
Tmall buyers who are not members yet (pending buyers).

Deterministic (each member's orders follow from its phone and the seed) and idempotent: rows go
through COPY into temporary tables and one INSERT ... ON CONFLICT (channel, order number) DO NOTHING,
so a rerun adds nothing. Written straight to the tables, without the orders-changed hooks: tiers and
points take them in at their nightly recalculation (or their own demo seeds).
"""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from loyalty.orders import sql as orders_sql
from members import sql as members_sql

# sku, name, category, price
CATALOGUE = [
    ("DK70-100", "70% 黑巧克力排块 100g", "黑巧克力", Decimal("39.00")),
    ("DK85-100", "85% 黑巧克力排块 100g", "黑巧克力", Decimal("42.00")),
    ("DK99-80", "99% 纯黑巧克力 80g", "黑巧克力", Decimal("45.00")),
    ("MK-100", "丝滑牛奶巧克力 100g", "牛奶巧克力", Decimal("35.00")),
    ("HZ-200", "榛子夹心牛奶巧克力 200g", "牛奶巧克力", Decimal("68.00")),
    ("TF-9", "经典松露巧克力 9 粒装", "松露", Decimal("128.00")),
    ("TF-16", "松露巧克力 16 粒装", "松露", Decimal("218.00")),
    ("GB-S", "缤纷礼盒 小号", "礼盒", Decimal("198.00")),
    ("GB-L", "臻选礼盒 大号", "礼盒", Decimal("398.00")),
    ("GB-VAL", "情人节限定心形礼盒", "节日限定", Decimal("520.00")),
    ("GB-MID", "中秋巧克力月饼礼盒", "节日限定", Decimal("368.00")),
    ("GB-CNY", "新春福袋礼盒", "节日限定", Decimal("288.00")),
    ("HC-250", "热可可粉 250g", "热可可", Decimal("59.00")),
    ("KID-6", "儿童动物造型巧克力 6 枚", "儿童零食", Decimal("49.00")),
    ("LS-100", "低糖黑巧克力 100g", "低糖", Decimal("46.00")),
]
EVERYDAY = [product for product in CATALOGUE if product[2] != "节日限定"]
# order channel, share in 100
CHANNELS = [("pos", 52), ("tmall", 20), ("miniprogram", 14), ("douyin", 9), ("jd", 5)]
# orders per member over 18 months, share in 1000: most buy rarely, a few are regulars
ORDER_COUNTS = [(0, 380), (1, 270), (2, 150), (3, 90), (4, 40), (5, 25), (6, 15), (8, 12), (12, 10), (18, 6), (24, 2)]
PENDING_PER_1000_MEMBERS = 60
REFUND_IN = 25  # one order in 25 is refunded, whole or in part
DAYS = 540

_ORDER_COLUMNS = (
    "channel, external_id, member_id, buyer_channel, buyer_namespace, buyer_external_id, store_id, "
    "staff_id, attribution, currency, total_amount, placed_at"
)


def _pick(rng: random.Random, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _basket(rng: random.Random, placed: datetime) -> list[tuple]:
    lines = []
    for _ in range(_pick(rng, [(1, 55), (2, 30), (3, 12), (4, 3)])):
        sku, name, category, price = rng.choice(CATALOGUE)
        if category == "节日限定" and placed.month not in (1, 2, 9):
            sku, name, category, price = rng.choice(EVERYDAY)  # festival boxes sell around their festivals
        quantity = _pick(rng, [(1, 75), (2, 18), (3, 5), (6, 2)])
        discount = Decimal(rng.choice(["1", "1", "1", "0.9", "0.85", "0.8"]))
        amount = (price * quantity * discount).quantize(Decimal("0.01"))
        lines.append((sku, name, category, quantity, amount))
    return lines


def _rows(members, now: datetime, seed: int):
    """(order row, [line rows]) for every demo order, deterministic per member phone."""
    for member_id, phone, store_id, owner_id, joined in members:
        rng = random.Random(f"orders-{seed}-{phone}")
        start = max(joined, now - timedelta(days=DAYS))
        span = max((now - start).total_seconds(), 3600)
        for k in range(_pick(rng, ORDER_COUNTS)):
            moment = start + timedelta(seconds=rng.uniform(0, span))
            # Shop hours, unless that would put today's order in the future.
            hour = rng.choice([11, 12, 14, 15, 16, 18, 19, 20, 21])
            placed = timezone.localtime(moment).replace(hour=hour, microsecond=0)
            if placed > now:
                placed = moment.replace(microsecond=0)
            # The channel (and so the order number) comes from the member and k alone, not from the
            # dates drawn above: a rerun another day finds the same numbers and adds nothing.
            channel = _pick(random.Random(f"channel-{seed}-{phone}-{k}"), CHANNELS)
            lines = _basket(rng, placed)
            prefix = {"pos": "P", "tmall": "TM", "miniprogram": "MP", "douyin": "DY", "jd": "JD"}[channel]
            number = f"{prefix}{seed:02d}{phone[-8:]}{k:02d}"
            attribution = "owner" if owner_id else "none"
            yield (
                (
                    channel,
                    number,
                    member_id,
                    "phone",
                    "",
                    phone,
                    store_id,
                    owner_id or None,
                    attribution,
                    "CNY",
                    sum(line[4] for line in lines),
                    placed,
                ),
                lines,
            )


def _pending_rows(count: int, now: datetime, seed: int):
    rng = random.Random(f"orders-pending-{seed}")
    for n in range(count):
        placed = (now - timedelta(days=rng.uniform(0, DAYS))).replace(microsecond=0)
        lines = _basket(rng, placed)
        yield (
            (
                "tmall",
                f"TMP{seed:02d}{n:07d}",
                None,
                "tmall",
                "coco-flagship",
                f"tb_demo_{seed}_{n}",
                None,
                None,
                "none",
                "CNY",
                sum(line[4] for line in lines),
                placed,
            ),
            lines,
        )


def _copy(cursor, table: str, columns: str, rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    cursor.connection.cursor().copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


# The staged orders that are new, then their lines.
_INSERT_SQL = f"""
    WITH added AS (
        INSERT INTO {orders_sql.ORDER} ({_ORDER_COLUMNS}, referral_code, refunded_amount, status, created_at,
                                       updated_at)
        SELECT {_ORDER_COLUMNS}, '', 0, 'paid', placed_at, placed_at FROM demo_order ORDER BY placed_at
        ON CONFLICT (channel, external_id) DO NOTHING
        RETURNING id, channel, external_id
    )
    INSERT INTO {orders_sql.ORDER_LINE} (order_id, sku, name, category, quantity, amount, refunded_amount)
    SELECT a.id, l.sku, l.name, l.category, l.quantity, l.amount, 0
    FROM added a JOIN demo_order_line l ON l.channel = a.channel AND l.external_id = a.external_id
    ORDER BY a.id
"""

# Refunds of the new orders: every 25th order (by a hash of its number) gives back its first line
# (a partial refund) or, for one-line orders, the whole order.
_REFUND_SQL = f"""
    WITH picked AS (
        SELECT DISTINCT ON (o.id) o.id AS order_id, l.id AS line_id, l.amount, o.placed_at
        FROM demo_order d
        JOIN {orders_sql.ORDER} o ON o.channel = d.channel AND o.external_id = d.external_id
        JOIN {orders_sql.ORDER_LINE} l ON l.order_id = o.id
        WHERE mod(abs(hashtext(o.external_id)), %s) = 0 AND o.refunded_amount = 0
          AND o.placed_at < now() - interval '1 hour'
          AND NOT EXISTS (SELECT 1 FROM {orders_sql.REFUND} r WHERE r.order_id = o.id)
        ORDER BY o.id, l.id
    ), refunds AS (
        INSERT INTO {orders_sql.REFUND} (order_id, line_id, external_id, amount, reason, refunded_at, created_at)
        SELECT order_id, line_id, 'RF' || order_id, amount, '七天无理由退货',
               LEAST(placed_at + interval '3 days', now()), LEAST(placed_at + interval '3 days', now())
        FROM picked
        RETURNING order_id, line_id, amount
    ), lines AS (
        UPDATE {orders_sql.ORDER_LINE} l SET refunded_amount = r.amount FROM refunds r WHERE l.id = r.line_id
    )
    UPDATE {orders_sql.ORDER} o SET refunded_amount = r.amount,
        status = CASE WHEN r.amount = o.total_amount THEN 'refunded' ELSE 'partially_refunded' END
    FROM refunds r WHERE o.id = r.order_id
"""


def _stage(cursor, members, now: datetime, seed: int) -> None:
    """The demo orders and their lines, COPY-ed into temporary tables (demo_order, demo_order_line)."""
    orders, lines = [], []
    pending = len(members) * PENDING_PER_1000_MEMBERS // 1000
    for row, basket in [*_rows(members, now, seed), *_pending_rows(pending, now, seed)]:
        orders.append(row)
        lines += [(row[0], row[1], *line) for line in basket]
    for table in ("demo_order", "demo_order_line"):
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
    cursor.execute(
        "CREATE TEMP TABLE demo_order (channel text, external_id text, member_id bigint, buyer_channel text, "
        "buyer_namespace text, buyer_external_id text, store_id bigint, staff_id bigint, attribution text, "
        "currency text, total_amount numeric, placed_at timestamptz) ON COMMIT DROP"
    )
    cursor.execute(
        "CREATE TEMP TABLE demo_order_line (channel text, external_id text, sku text, name text, category text, "
        "quantity int, amount numeric) ON COMMIT DROP"
    )
    _copy(cursor, "demo_order", _ORDER_COLUMNS, orders)
    _copy(cursor, "demo_order_line", "channel, external_id, sku, name, category, quantity, amount", lines)


def seed(*, seed: int = 7) -> str:
    """Add the demo orders that are missing; returns a one-line summary."""
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT id, phone, home_store_id, owner_id, created_at FROM {members_sql.MEMBER}
            WHERE phone <> '' AND {members_sql.live(None)} ORDER BY id"""
        )
        members = cursor.fetchall()
        if not members:
            return "orders: no members to buy anything (seed the members first)"
        cursor.execute(f"SELECT count(*) FROM {orders_sql.ORDER}")
        before = cursor.fetchone()[0]
        _stage(cursor, members, now, seed)
        cursor.execute(_INSERT_SQL)
        line_count = cursor.rowcount
        cursor.execute(_REFUND_SQL, [REFUND_IN])
        refunded = cursor.rowcount
        cursor.execute(f"SELECT count(*), count(*) FILTER (WHERE member_id IS NULL) FROM {orders_sql.ORDER}")
        total, pending_total = cursor.fetchone()
    return (
        f"orders: {total - before} added ({line_count} lines, {refunded} refunds); {total} in all, "
        f"{pending_total} from buyers who are not members yet"
    )
