"""Linking pending orders to buyers who become members (when their identity appears, or by the
periodic sweep), and moving orders to the survivor of a merge."""

from __future__ import annotations

from django.db import transaction

from loyalty.orders import hooks
from loyalty.orders import sql as orders_sql
from members import sql as members_sql
from scrm import events
from scrm import sql as scrm_sql
from scrm.sql import array, fetchall

# Link pending orders to the member now holding their buyer identity; credit the member's owner
# where nobody was credited, and count store-less (online) orders for the member's home store.
_LINK = f"""
WITH found AS (
    SELECT o.id, i.member_id FROM {orders_sql.ORDER} o
    JOIN {members_sql.IDENTITY} i
      ON i.channel = o.buyer_channel AND i.namespace = o.buyer_namespace AND i.external_id = o.buyer_external_id
    JOIN {members_sql.MEMBER} live ON live.id = i.member_id AND {members_sql.live("live")}
    WHERE o.member_id IS NULL AND o.buyer_external_id <> '' {{condition}}
    ORDER BY o.id LIMIT %s
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE {orders_sql.ORDER} o SET
    member_id = m.id,
    store_id = coalesce(o.store_id, m.home_store_id),
    staff_id = coalesce(o.staff_id, u.id),
    attribution = CASE WHEN o.staff_id IS NULL AND u.id IS NOT NULL THEN 'owner' ELSE o.attribution END,
    updated_at = now()
FROM found
JOIN {members_sql.MEMBER} m ON m.id = found.member_id
LEFT JOIN {scrm_sql.USER} u ON u.id = m.owner_id AND u.is_active
WHERE o.id = found.id
RETURNING o.id, o.member_id
"""
LINK_CHUNK = 10000
ORDER_LINKED = "order.linked"

# order.linked: the order's id, channel, number, total and currency, for the member's store.
_LINKED_SELECT = f"""
SELECT o.member_id, m.home_store_id, jsonb_build_object('order', jsonb_build_object(
    'id', o.id, 'channel', o.channel, 'external_id', o.external_id, 'total', o.total_amount::text,
    'currency', o.currency))
FROM {orders_sql.ORDER} o JOIN {members_sql.MEMBER} m ON m.id = o.member_id
WHERE o.id = ANY(%s::bigint[]) ORDER BY o.id"""


def emit_linked(order_ids) -> int:
    """order.linked for each of these orders that has a member (recorded with one, or linked to one
    now), in one INSERT ... SELECT."""
    ids = sorted(order_ids)
    return events.emit_sql(ORDER_LINKED, _LINKED_SELECT, [array(ids)]) if ids else 0


_RECORDED_SELECT = """
SELECT m, s, jsonb_build_object('order', jsonb_build_object(
    'id', o, 'channel', c, 'external_id', e, 'total', t::text, 'currency', cur))
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::numeric[], %s::text[])
     WITH ORDINALITY AS u(o, m, s, c, e, t, cur, n)
ORDER BY n"""


def emit_recorded(orders) -> int:
    """order.linked for orders just recorded with their member, from what the caller wrote: each
    (order id, member id, the member's home store, channel, order number, total, currency). The same
    events as emit_linked, without reading the rows back (a join of orders and members per batch
    that cost more than writing the events)."""
    rows = sorted(orders)
    if not rows:
        return 0
    return events.emit_sql(ORDER_LINKED, _RECORDED_SELECT, [array(column) for column in zip(*rows, strict=True)])


def _link(condition: str, params: list, *, limit: int) -> int:
    rows = fetchall(_LINK.format(condition=condition), [*params, limit])
    if rows:
        emit_linked([r[0] for r in rows])
        hooks.orders_changed(order_ids=[r[0] for r in rows], member_ids=[r[1] for r in rows])
    return len(rows)


def link_orders_for_identities(*, identity_ids: list[int]) -> int:
    """Link the pending orders whose buyer holds one of these (new) identities; returns how many."""
    ids = sorted({int(i) for i in identity_ids})
    if not ids:
        return 0
    linked = 0
    while True:
        with transaction.atomic():
            count = _link("AND i.id = ANY(%s::bigint[])", [array(ids)], limit=LINK_CHUNK)
        linked += count
        if count < LINK_CHUNK:
            return linked


def link_pending_orders(*, chunk: int = LINK_CHUNK) -> int:
    """Sweep every pending order against the identities (catches identities written in bulk, e.g. by
    a member import); each chunk commits on its own, locked rows are left to whoever holds them."""
    linked = 0
    while True:
        with transaction.atomic():
            count = _link("", [], limit=chunk)
        linked += count
        if count < chunk:
            return linked


def move_orders_on_merge(survivor_id: int, duplicate_id: int) -> int:
    """Merge handler (members.services.merge.register_handler): the duplicate's orders move to the
    survivor, and the figures of both are recomputed."""
    moved = [
        row[0]
        for row in fetchall(
            f"UPDATE {orders_sql.ORDER} SET member_id = %s, updated_at = now() WHERE member_id = %s RETURNING id",
            [survivor_id, duplicate_id],
        )
    ]
    if moved:
        hooks.orders_changed(order_ids=moved, member_ids=[survivor_id, duplicate_id])
    return len(moved)
