"""Read side of orders: the member 360 panel and the detail page's related rows."""

from __future__ import annotations

from django.db.models import Count, F, Max, Prefetch, Sum

from loyalty.orders.models import Order, Refund
from scrm.scoping import access_for, scope

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


# --- who may see an order's buyer ---------------------------------------------------------------------
# An order belongs to the store where it was placed; its buyer may be a member homed at another store
# (one member centre, many stores). The store sees its order, not that member: no member id and no
# full phone or identity of a member it cannot open.

MEMBER_HOME = "member_home_store_id"  # annotate lists with it (with_member_home) to avoid a query per row


def with_member_home(queryset):
    """`queryset` of orders annotated with the buyer's home store, for member_visible."""
    return queryset.annotate(**{MEMBER_HOME: F("member__home_store_id")})


def member_visible(actor, order: Order) -> bool:
    """Whether `actor` may see the member who bought `order` (True when no member is known: the
    buyer identity is what the caller's own store sent)."""
    if order.member_id is None:
        return True
    # Not dict.get(): its default would load the member even when the annotation is there.
    home = order.__dict__[MEMBER_HOME] if MEMBER_HOME in order.__dict__ else order.member.home_store_id  # noqa: SIM401
    return access_for(actor).allows_store(home)


def masked_identity(channel: str, external_id: str) -> str:
    """A buyer identity as someone who may not see its member reads it: a phone as +86 138****8000,
    any other id down to its last four characters."""
    from members.phones import mask_phone

    if not external_id:
        return ""
    if channel == "phone":
        return mask_phone(external_id)
    return "****" + external_id[-4:] if len(external_id) > 8 else "****"
