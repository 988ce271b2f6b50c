"""Demo data of points: the chocolate brand's policy, a rewards catalogue, points earned on the demo
orders (whatever exist; none is fine) and a few redemptions at the stores. Idempotent: a rerun adds
only what is missing (new orders earn, nothing is redeemed twice)."""

from __future__ import annotations

import random
from decimal import Decimal

from django.db import connection

from loyalty.orders import sql as orders_sql
from loyalty.points import services
from loyalty.points import sql as points_sql
from loyalty.points.models import ExpiryMode, PointsPolicy, Redemption, Reward
from members import sql as members_sql
from scrm.actors import SystemActor
from scrm.errors import ServiceError

CHUNK = 50_000

CATALOGUE = [
    # name, kind, points, stock, per-member limit, lowest tier rank, description
    ("满99减10元券", "coupon", 300, None, 5, None, "全渠道通用，下单满 99 元立减 10 元，30 天内有效。"),
    ("满299减30元券", "coupon", 800, None, 3, None, "全渠道通用，满 299 元立减 30 元。"),
    ("母婴专区 9 折券", "coupon", 500, None, 2, None, "奶粉、纸尿裤、玩具类目 9 折，单笔最高减 50 元。"),
    ("Coco 经典黑巧 12 颗礼盒", "gift", 1500, 200, 2, None, "70% 黑巧 12 颗装，门店自提。"),
    ("品牌帆布托特包", "gift", 2000, 120, 1, None, "限量印花帆布包，到店领取。"),
    ("定制刻字巧克力排块", "gift", 3500, 60, 1, 3, "会员专属：刻上名字或祝福语，7 天内门店取货。"),
    ("新品抢先购 · 抹茶生巧", "early_access", 600, 500, 1, 2, "新品上市前 7 天抢先购买资格。"),
    ("Coco Master 巧克力工坊体验课", "early_access", 5000, 30, 1, 5, "主厨带领的 2 小时手作课，含 6 颗自制松露。"),
]


def _policy() -> bool:
    if PointsPolicy.objects.filter(pk=1).exists():
        return False
    PointsPolicy.objects.create(
        pk=1,
        enabled=True,
        points_per_unit=Decimal("1"),
        birthday_multiplier=Decimal("2"),
        tier_multipliers={"1": 1, "2": 1, "3": 1.2, "4": 1.5, "5": 1.8, "6": 2},
        category_multipliers={"礼盒": 1.5, "gift box": 1.5, "奶粉": 1.2, "milk powder": 1.2},
        expiry_mode=ExpiryMode.PERIOD_END,
        expiry_years=1,
        point_value=Decimal("0.01"),
    )
    return True


def _catalogue() -> int:
    existing = set(Reward.objects.filter(name__in=[c[0] for c in CATALOGUE]).values_list("name", flat=True))
    Reward.objects.bulk_create(
        [
            Reward(
                name=name,
                kind=kind,
                points_cost=cost,
                stock=stock,
                per_member_limit=limit,
                min_tier_rank=rank,
                description=text,
            )
            for name, kind, cost, stock, limit, rank, text in CATALOGUE
            if name not in existing
        ]
    )
    return len(CATALOGUE) - len(existing)


def _earn() -> tuple[int, int]:
    lots = points = 0
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT o.id FROM {orders_sql.ORDER} o WHERE o.id > %s AND o.member_id IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {points_sql.POINT_LOT} l WHERE l.order_id = o.id AND l.source = 'order') "
                "ORDER BY o.id LIMIT %s",
                [last, CHUNK],
            )
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return lots, points
        result = services.sync_orders(order_ids=ids)
        lots += result.lots_created
        points += result.points_earned
        last = ids[-1]


def _redemptions(rng: random.Random, count: int) -> int:
    if Redemption.objects.exists():
        return 0
    rewards = list(Reward.objects.filter(is_active=True, min_tier_rank__isnull=True).order_by("points_cost"))
    if not rewards:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT mp.member_id FROM {points_sql.MEMBER_POINTS} mp "
            f"JOIN {members_sql.MEMBER} m ON m.id = mp.member_id "
            f"WHERE mp.balance >= %s AND {members_sql.live('m')} ORDER BY mp.member_id",
            [rewards[0].points_cost],
        )
        candidates = [row[0] for row in cursor.fetchall()]
    from members.models import Member

    chosen = rng.sample(candidates, min(count, len(candidates)))
    done = 0
    for member in Member.objects.filter(pk__in=chosen).select_related("owner", "home_store").order_by("id"):
        reward = rng.choice(rewards)
        actor = member.owner or SystemActor("demo")
        try:
            services.redeem(member=member, reward=reward, actor=actor, note="")
        except ServiceError:
            continue  # not enough points for that one, or over its limit: fine for a demo
        done += 1
    return done


def seed(*, seed: int = 7) -> str:
    rng = random.Random(seed)
    policy = _policy()
    rewards = _catalogue()
    lots, points = _earn()
    expired = services.expire_due_points()
    redeemed = _redemptions(rng, 60)
    return (
        f"points: policy {'created' if policy else 'kept'}, {rewards} rewards added, {lots} orders earned "
        f"{points} pts, {expired} pts expired, {redeemed} redemptions"
    )
