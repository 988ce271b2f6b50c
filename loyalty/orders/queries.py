"""Read side of orders: the member 360 panel and the detail page's related rows."""

from __future__ import annotations

from django.db.models import Count, F, Max, Prefetch, Sum

from loyalty.orders.models import Order, Refund
from scrm.scoping import scope

RECENT = 5


def member_panel(member, user) -> dict:
    """Lifetime spend (net of refunds, every store), order count, last order, and the 5 most recent
    orders the viewer may open."""
    figures = Order.objects.filter(member=member).aggregate(
        spend=Sum(F("total_amount") - F("refunded_amount")),
        count=Count("id"),
        last=Max("placed_at"),
    )
    recent = list(
        scope(Order.objects.filter(member=member), user).select_related("store").order_by("-placed_at", "-id")[:RECENT]
    )
    return {
        "member": member,
        "spend": figures["spend"] or 0,
        "count": figures["count"],
        "last": figures["last"],
        "recent": recent,
    }


def order_detail(queryset):
    """The detail page's and API's order: store, member, guide, lines and refunds in 2 extra queries."""
    return queryset.select_related("store", "member", "staff").prefetch_related(
        "lines", Prefetch("refunds", queryset=Refund.objects.select_related("line").order_by("refunded_at", "id"))
    )
