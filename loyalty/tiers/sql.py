"""The SQL names of the tiers tables, for raw SQL here and in the apps built on tiers (points'
multipliers, segment filters): a grep for these names finds every statement that reads them."""

from __future__ import annotations

from loyalty.tiers.models import MemberTier, TierChange, TierLevel, TierRun

MEMBER_TIER = MemberTier._meta.db_table
TIER_LEVEL = TierLevel._meta.db_table
TIER_CHANGE = TierChange._meta.db_table
TIER_RUN = TierRun._meta.db_table
