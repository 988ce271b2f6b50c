"""What loyalty.orders plugs into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready(). Every app that plugs into another does it in a module of this name."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.orders import privacy, queries, services, tasks
from loyalty.orders.models import Order
from members import hooks as member_hooks
from members import panels
from members.services import merge
from scrm import events, permissions


def register() -> None:
    from loyalty.orders import timeline as orders_timeline

    orders_timeline.register()
    permissions.register("orders", _("Orders and refunds"))
    events.register_type("order.linked", _("An order was linked to a member (recorded with its buyer or later)"),
                         resource="orders")
    member_hooks.on_identities_added(tasks.queue_link)
    merge.register_handler(Order, "member", services.move_orders_on_merge)
    panels.register("orders", template="orders/_member_panel.html", context=queries.member_panel, order=20)
    privacy.register()
    register_member_columns()


def register_member_columns() -> None:
    """Spend over the last 365 days (net of refunds, in the reporting currency) and the last order's
    date on the member list; both read the (member, placed_at) index."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import DecimalField, F, Max, OuterRef, Subquery, Sum, Value
    from django.db.models.functions import Coalesce
    from django.utils import timezone

    from members import columns

    def spend():
        year = Order.objects.filter(
            member=OuterRef("pk"), placed_at__gte=timezone.now() - timedelta(days=365),
            currency=settings.SIYU_CURRENCIES[0],
        ).order_by().values("member").annotate(net=Sum(F("total_amount") - F("refunded_amount"))).values("net")
        return Coalesce(Subquery(year[:1]), Value(0), output_field=DecimalField(max_digits=14, decimal_places=2))

    def last_order():
        mine = Order.objects.filter(member=OuterRef("pk")).order_by().values("member")
        return Subquery(mine.annotate(last=Max("placed_at")).values("last")[:1])

    columns.register("spend", _("Spend, 12 months"), kind="money", order=30, expression=spend)
    columns.register("last_order", _("Last order"), kind="date", order=40, expression=last_order)
