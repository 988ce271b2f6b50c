"""The SQL names of the points tables, for raw SQL here and in what points plug into (the tier
basis "points earned", the balance filter): a grep for these names finds every statement that reads them."""

from __future__ import annotations

from loyalty.points.models import MemberPoints, PointEntry, PointLot, Reward

POINT_LOT = PointLot._meta.db_table
MEMBER_POINTS = MemberPoints._meta.db_table
POINT_ENTRY = PointEntry._meta.db_table
REWARD = Reward._meta.db_table
