"""Demo referrals: a code for every demo member, three commission rules, and about one demo order in
twenty-five carrying a code of a fellow member of the buyer's store, with the commissions and
referrers that follow. Idempotent: a rerun adds nothing."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection

from loyalty.orders import sql as orders_sql
from loyalty.referrals import services
from loyalty.referrals import sql as referrals_sql
from loyalty.referrals.models import Commission, CommissionRule
from members import sql as members_sql
from scrm.actors import SystemActor

RULES = [
    {"name": "全渠道 3%", "rate": Decimal("3"), "return_window_days": 7},
    {"name": "天猫 2%", "channel": "tmall", "rate": Decimal("2"), "return_window_days": 15},
    {
        "name": "礼盒 5% + 5 元",
        "category": "礼盒",
        "rate": Decimal("5"),
        "fixed_amount": Decimal("5"),
        "return_window_days": 15,
    },
]

# The referrer is the member next in id order in the buyer's home store: a friend who shops there too.
_REFER_ORDERS = f"""
WITH picked AS (
    SELECT o.id,
           (SELECT rc.code FROM {members_sql.MEMBER} f JOIN {referrals_sql.REFERRAL_CODE} rc ON rc.member_id = f.id
             WHERE f.home_store_id = m.home_store_id AND f.id > m.id ORDER BY f.id LIMIT 1) AS code
      FROM {orders_sql.ORDER} o JOIN {members_sql.MEMBER} m ON m.id = o.member_id
     WHERE o.referral_code = '' AND m.home_store_id IS NOT NULL
       AND abs(hashtext(o.id::text || %(seed)s::text)) %% 25 = 0
)
UPDATE {orders_sql.ORDER} o SET referral_code = picked.code FROM picked
 WHERE o.id = picked.id AND picked.code IS NOT NULL
RETURNING o.id
"""


def seed(*, seed: int = 7) -> str:
    codes = services.generate_codes()
    rules = 0
    if not CommissionRule.objects.exists():
        for data in RULES:
            services.create_rule(data=data, actor=SystemActor("demo"))
            rules += 1
    referred: list[int] = []
    if not Commission.objects.exists():
        with connection.cursor() as cursor:
            cursor.execute(_REFER_ORDERS, {"seed": seed})
            referred = [row[0] for row in cursor.fetchall()]
        for start in range(0, len(referred), 10_000):
            services.sync_commissions(order_ids=referred[start : start + 10_000])
        services.release_due_commissions()
    return (
        f"referrals: {codes} codes, {rules} rules, {len(referred)} referred orders, "
        f"{Commission.objects.count()} commissions"
    )
