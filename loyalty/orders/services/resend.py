"""An order number sent again. The same content is the same order: it is answered with what was
recorded (a retry, a re-sync). Other content under a number already recorded is refused, naming
each field that differs, never answered with the old order as if it had been accepted.

Compared: what the sender states about the sale (amount, currency, time, store, lines, buyer,
member, referral code). Not compared: what changes after recording (refunds, status, a buyer linked
later), who the sale was credited to (decided once, at recording, by the attribution policy), and
fields the resend leaves out that the order took from elsewhere (an online order's store is its
member's home store)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.utils.translation import gettext as _

from loyalty.orders import sql as orders_sql
from loyalty.orders.services.cleaning import Item
from members.models import Channel as IdentityChannel
from scrm import sql as scrm_sql
from scrm.sql import array, fetchall

CONFLICT_CODE = "order_conflict"  # the error code of a single order refused this way


def _buyer(item: Item) -> tuple[str, str, str] | None:
    if item.buyer:
        return item.buyer.channel, item.buyer.namespace, item.buyer.external_id
    if item.phone:
        return IdentityChannel.PHONE, "", item.phone
    return None


def _lines(lines) -> list[tuple]:
    return sorted((sku, name, category, quantity, amount) for sku, name, category, quantity, amount in lines)


def _show(value) -> str:
    if value is None or value == "":
        return _("nothing")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return "/".join(part for part in value if part)
    return str(value)


def _compare(pairs, problems: dict) -> dict:
    for name, first, again in pairs:
        if first != again:
            problems[name] = [
                _("Order already recorded with %(first)s; this request says %(again)s.")
                % {"first": _show(first), "again": _show(again)}
            ]
    return problems


def item_differences(first: Item, again: Item) -> dict[str, list[str]]:
    """Fields in which two items of one batch with the same order number disagree."""
    problems = _compare(
        (
            ("total_amount", first.total, again.total),
            ("currency", first.currency, again.currency),
            ("placed_at", first.placed_at, again.placed_at),
            ("store", first.store_code or None, again.store_code or None),
            ("member_id", first.member_id, again.member_id),
            ("buyer", _buyer(first), _buyer(again)),
            ("referral_code", first.referral_code, again.referral_code),
        ),
        {},
    )
    if _lines(first.lines) != _lines(again.lines):
        problems["lines"] = [_("The lines differ from those of the same order earlier in this batch.")]
    return problems


class _Recorded(NamedTuple):
    """What an order recorded earlier says about the sale (see the module docstring)."""

    total_amount: Decimal
    currency: str
    placed_at: datetime
    referral_code: str
    store_code: str | None
    member_id: int | None
    buyer_channel: str
    buyer_namespace: str
    buyer_external_id: str


# Read as plain rows, not model instances: a retried batch reads a thousand orders and their lines.
_ORDERS = f"""SELECT o.id, o.total_amount, o.currency, o.placed_at, o.referral_code, s.code, o.member_id,
    o.buyer_channel, o.buyer_namespace, o.buyer_external_id
FROM {orders_sql.ORDER} o LEFT JOIN {scrm_sql.STORE} s ON s.id = o.store_id
WHERE o.id = ANY(%s::bigint[])"""
_LINES = f"""SELECT order_id, sku, name, category, quantity, amount FROM {orders_sql.ORDER_LINE}
WHERE order_id = ANY(%s::bigint[])"""


def order_differences(pairs: list[tuple[Item, int]]) -> dict[int, dict[str, list[str]]]:
    """{item index: {field: [message]}} for the items whose recorded order (item, order id) holds
    other content; two queries whatever the number of items."""
    if not pairs:
        return {}
    ids = array(sorted({order_id for _item, order_id in pairs}))
    orders = {row[0]: _Recorded(*row[1:]) for row in fetchall(_ORDERS, [ids])}
    lines: dict[int, list[tuple]] = {order_id: [] for _item, order_id in pairs}
    for order_id, *line in fetchall(_LINES, [ids]):
        lines[order_id].append(tuple(line))
    found = {}
    for item, order_id in pairs:
        problems = _differences(item, orders[order_id], lines[order_id])
        if problems:
            found[item.index] = problems
    return found


def _differences(item: Item, order: _Recorded, lines: list[tuple]) -> dict[str, list[str]]:
    pairs = [
        ("total_amount", order.total_amount, item.total),
        ("currency", order.currency, item.currency),
        ("placed_at", order.placed_at, item.placed_at),
        ("referral_code", order.referral_code, item.referral_code),
    ]
    if item.store_code:
        pairs.append(("store", order.store_code, item.store_code))
    if item.member_id is not None and order.member_id is not None:
        pairs.append(("member_id", order.member_id, item.resolved_member))
    buyer = _buyer(item)
    if buyer is not None and order.buyer_channel:
        pairs.append(("buyer", (order.buyer_channel, order.buyer_namespace, order.buyer_external_id), buyer))
    problems = _compare(pairs, {})
    if _lines(lines) != _lines(item.lines):
        problems["lines"] = [_("The lines differ from those recorded for this order.")]
    return problems
