"""The SQL names of the orders tables, for raw SQL here and in the apps built on orders (tiers,
points, referrals, insights): a grep for these names finds every statement that reads them."""

from __future__ import annotations

from loyalty.orders.models import Order, OrderLine, Refund

ORDER = Order._meta.db_table
ORDER_LINE = OrderLine._meta.db_table
REFUND = Refund._meta.db_table
