"""Demo data for tiers: the chocolate brand's six-level ladder, from 可可小白 (Coco Xiaobai) to
可可大师 (Coco Master), by net spend over the last 12 months, then a recalculation over whatever
demo orders exist. Idempotent: an existing ladder is left as it is, and a second recalculation
finds nothing to change."""

from __future__ import annotations

from loyalty.tiers import services
from loyalty.tiers.models import ChangeReason, TierLadder
from scrm.actors import SystemActor

# Thresholds in yuan of net spend in 365 days: a box of truffles is ~200, a festive gift set ~600.
LEVELS = [
    {
        "rank": 1,
        "name": "可可小白",
        "threshold": "0",
        "colour": "#c8b6a6",
        "benefits": "入会礼：松露巧克力2颗\n生日月双倍可可豆",
    },
    {
        "rank": 2,
        "name": "可可学徒",
        "threshold": "300",
        "colour": "#b08968",
        "benefits": "每月1张满199减20券\n生日月双倍可可豆",
    },
    {
        "rank": 3,
        "name": "可可达人",
        "threshold": "800",
        "colour": "#9c6644",
        "benefits": "全场9.5折\n新品试吃\n生日礼盒",
    },
    {
        "rank": 4,
        "name": "可可行家",
        "threshold": "2000",
        "colour": "#7f5539",
        "benefits": "全场9.2折\n节日礼盒优先预订\n免费刻字",
    },
    {
        "rank": 5,
        "name": "可可鉴赏家",
        "threshold": "5000",
        "colour": "#6f4518",
        "benefits": "全场9折\n品鉴会邀请\n专属导购",
    },
    {
        "rank": 6,
        "name": "可可大师",
        "threshold": "10000",
        "colour": "#432818",
        "benefits": "全场8.8折\n工坊体验\n限量款优先购\n年度答谢礼",
    },
]


def seed(*, seed: int = 7) -> str:
    created = not TierLadder.objects.filter(pk=services.LADDER_ID).exists()
    if created:
        services.save_ladder(
            actor=SystemActor("demo"),
            data={
                "name": "诺梵会员",
                "basis": "spend",
                "window_days": 365,
                "downgrade_policy": "grace",
                "grace_days": 30,
                "levels": LEVELS,
            },
        )
    result = services.recalculate_tiers(reason=ChangeReason.NIGHTLY, actor_label="demo")
    ladder = "six-level ladder created" if created else "ladder kept"
    return (
        f"tiers: {ladder}; {result.members_written} member tiers written "
        f"({result.upgrades} up, {result.downgrades} down)"
    )
