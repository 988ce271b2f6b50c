"""Writing orders, one module per concern: checking what callers send (`cleaning`), ingestion of
one or a thousand orders (`ingest`), who an order is credited to (`attribution`), refunds
(`refunds`), and linking buyers who become members and moving orders on merges (`linking`).
Spreadsheet imports are in loyalty/orders/imports.py. Callers use this package's names:
`from loyalty.orders import services; services.record_orders(...)`."""

from loyalty.orders.services.attribution import set_attribution_policy
from loyalty.orders.services.cleaning import (
    CENT,
    CHANNELS,
    EARLIEST,
    FUTURE_SLACK,
    ITEM_FIELDS,
    LINE_FIELDS,
    MAX_AMOUNT,
    MAX_BATCH,
    MAX_LINES,
    clean_phone,
    currencies,
    parse_amount,
    parse_moment,
)
from loyalty.orders.services.ingest import BatchResult, OrderResult, record_order, record_orders
from loyalty.orders.services.linking import (
    LINK_CHUNK,
    link_orders_for_identities,
    link_pending_orders,
    move_orders_on_merge,
)
from loyalty.orders.services.permissions import can_import_orders, can_manage_attribution, can_refund
from loyalty.orders.services.refunds import record_refund

__all__ = [
    "CENT",
    "CHANNELS",
    "EARLIEST",
    "FUTURE_SLACK",
    "ITEM_FIELDS",
    "LINE_FIELDS",
    "LINK_CHUNK",
    "MAX_AMOUNT",
    "MAX_BATCH",
    "MAX_LINES",
    "BatchResult",
    "OrderResult",
    "can_import_orders",
    "can_manage_attribution",
    "can_refund",
    "clean_phone",
    "currencies",
    "link_orders_for_identities",
    "link_pending_orders",
    "move_orders_on_merge",
    "parse_amount",
    "parse_moment",
    "record_order",
    "record_orders",
    "record_refund",
    "set_attribution_policy",
]
