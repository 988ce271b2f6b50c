"""Orders' entries of the member timeline (members.timeline): orders placed and refunds, the ones
the reader may open (an order of another store stays out of a clerk's history, as on the panel)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from loyalty.orders.models import Order, OrderChannel, Refund
from members.timeline import Entry, Window
from scrm.scoping import scope

MESSAGES = {
    "placed": _("Order %(number)s: %(amount)s (%(channel)s, %(store)s)"),
    "refunded": _("Refund %(number)s on order %(order)s: %(amount)s"),
}


def _money(currency: str, amount) -> str:
    return f"{currency} {amount:.2f}"


def orders_source(window: Window):
    queryset = scope(Order.objects.filter(member=window.member), window.reader).select_related("store", "staff")
    return [
        Entry(
            at=o.placed_at,
            pk=o.pk,
            code="placed",
            params={
                "number": o.external_id,
                "amount": _money(o.currency, o.total_amount),
                "channel": OrderChannel(o.channel).label if o.channel in OrderChannel.values else o.channel,
                "store": o.store.name if o.store else "—",
            },
            actor_user=o.staff,
            link=reverse("order-detail", args=[o.pk]),
        )
        for o in window.page(queryset, at="placed_at")
    ]


def refunds_source(window: Window):
    queryset = scope(Refund.objects.filter(order__member=window.member), window.reader).select_related("order")
    return [
        Entry(
            at=r.refunded_at,
            pk=r.pk,
            code="refunded",
            params={
                "number": r.external_id,
                "order": r.order.external_id,
                "amount": _money(r.order.currency, r.amount),
            },
            link=reverse("order-detail", args=[r.order_id]),
        )
        for r in window.page(queryset, at="refunded_at")
    ]


def register() -> None:
    from members import timeline

    timeline.register("orders", orders_source, label=_("Orders"), messages=MESSAGES, order=50)
    timeline.register("orders", refunds_source, name="orders.refunds", messages=MESSAGES)
