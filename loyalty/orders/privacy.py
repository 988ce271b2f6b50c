"""Orders' part of a member's data-subject export and erasure. Orders are accounting records: their
amounts, lines and refunds stay, but an erased member's orders lose what identifies the buyer (the
buyer identity, such as the phone a till recorded; an order number made of the phone). Orders still
waiting for a buyer with one of the member's identities lose it too, so they never link to anyone."""

from __future__ import annotations

from django.db.models import Q, Value
from django.db.models.functions import Concat

from loyalty.orders import sql as orders_sql
from loyalty.orders.models import Order, OrderLine, Refund
from members.privacy_registry import ErasureSubject, any_contains, scrub_text_fields


def export_part(member, actor) -> list[dict]:
    orders = list(
        Order.objects.filter(member=member)
        .order_by("placed_at", "id")
        .values(
            "id",
            "channel",
            "external_id",
            "store__code",
            "buyer_channel",
            "buyer_namespace",
            "buyer_external_id",
            "referral_code",
            "currency",
            "total_amount",
            "refunded_amount",
            "status",
            "placed_at",
            "created_at",
        )
    )
    ids = [o["id"] for o in orders]
    lines: dict[int, list] = {}
    for line in (
        OrderLine.objects.filter(order_id__in=ids)
        .order_by("id")
        .values("order_id", "sku", "name", "category", "quantity", "amount", "refunded_amount")
    ):
        lines.setdefault(line.pop("order_id"), []).append(line)
    refunds: dict[int, list] = {}
    for refund in (
        Refund.objects.filter(order_id__in=ids)
        .order_by("refunded_at", "id")
        .values("order_id", "external_id", "amount", "reason", "refunded_at")
    ):
        refunds.setdefault(refund.pop("order_id"), []).append(refund)
    for order in orders:
        order["lines"] = lines.get(order["id"], [])
        order["refunds"] = refunds.get(order["id"], [])
    return orders


def _pending_for(subject: ErasureSubject) -> Q:
    condition = Q(pk__in=[])
    for channel, namespace, external_id in subject.identities:
        condition |= Q(buyer_channel=channel, buyer_namespace=namespace, buyer_external_id=external_id)
    for phone in subject.phones:
        condition |= Q(buyer_channel="phone", buyer_external_id=phone)
    return Q(member__isnull=True) & condition


def erase(subject: ErasureSubject) -> dict:
    mine = Order.objects.filter(Q(member_id__in=subject.member_ids) | _pending_for(subject))
    needles = subject.needles
    # An order number that spells the buyer's phone or id is replaced by one that says nothing.
    renumbered = mine.filter(any_contains(["external_id"], needles)).update(external_id=Concat(Value("erased-"), "id"))
    buyers = mine.exclude(buyer_channel="", buyer_namespace="", buyer_external_id="").update(
        buyer_channel="", buyer_namespace="", buyer_external_id=""
    )
    refunds = scrub_text_fields(Refund.objects.filter(order__in=mine), ["reason"], needles)
    return {"buyers": buyers, "order_numbers": renumbered, "refund_reasons": refunds}


def register() -> None:
    from members import privacy_registry

    privacy_registry.register_export_part("orders", export_part)
    privacy_registry.register_erasure_step("orders", erase)
    # (member_id, placed_at) is indexed (order_member_placed).
    privacy_registry.register_activity(
        "orders", f"EXISTS (SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = m.id AND o.placed_at >= %(since)s)"
    )
