"""Figures across orders, tiers and points, always within what the actor may see (operators the
whole brand, store roles their store): repurchase rate, order value of members against other
buyers, members' share of GMV, GMV by store and by credited guide, RFM segments, tier distribution
and movement (from tiers), points liability (from points).

Orders count by `placed_at` in the period, in the reporting currency (the first of
settings.SIYU_CURRENCIES); GMV is net of refunds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from insights.models import MemberRFM, RFMBoundaries, RFMSegment
from loyalty.orders.models import Order
from loyalty.points import queries as point_queries
from loyalty.tiers import queries as tier_queries
from scrm.scoping import scope

PERIODS = (30, 90, 365)
TOP_GUIDES = 15


def period(raw) -> int:
    try:
        days = int(raw)
    except (TypeError, ValueError):
        return 30
    return days if days in PERIODS else 30


def _ratio(part, whole) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def _period_orders(actor, *, days: int, now):
    since = now - timedelta(days=days)
    orders = scope(Order.objects.all(), actor).filter(
        placed_at__gte=since, placed_at__lt=now, currency=settings.SIYU_CURRENCIES[0]
    )
    return orders, since


def sales_totals(actor, *, days: int, now=None) -> dict:
    """The period's headline figures (GMV, members' share, repurchase, order values): two queries."""
    now = now or timezone.now()
    orders, since = _period_orders(actor, days=days, now=now)
    net = F("total_amount") - F("refunded_amount")
    totals = orders.aggregate(
        orders=Count("pk"),
        gmv=Sum(net, default=Decimal(0)),
        member_orders=Count("pk", filter=Q(member__isnull=False)),
        member_gmv=Sum(net, filter=Q(member__isnull=False), default=Decimal(0)),
        other_orders=Count("pk", filter=Q(member__isnull=True)),
        other_gmv=Sum(net, filter=Q(member__isnull=True), default=Decimal(0)),
        buyers=Count("member", distinct=True),
    )
    repeat = orders.filter(member__isnull=False).values("member").annotate(n=Count("pk")).filter(n__gte=2).count()

    def aov(gmv, n):
        return (gmv / n).quantize(Decimal("0.01")) if n else None

    return {
        "days": days,
        "since": since,
        "currency": settings.SIYU_CURRENCIES[0],
        "orders": totals["orders"],
        "gmv": totals["gmv"],
        "member_gmv_share": _ratio(totals["member_gmv"], totals["gmv"]),
        "buyers": totals["buyers"],
        "repeat_buyers": repeat,
        "repurchase_rate": _ratio(repeat, totals["buyers"]),
        "aov_members": aov(totals["member_gmv"], totals["member_orders"]),
        "aov_others": aov(totals["other_gmv"], totals["other_orders"]),
        "member_orders": totals["member_orders"],
        "other_orders": totals["other_orders"],
    }


def sales(actor, *, days: int, now=None) -> dict:
    """The headline figures plus GMV by store and by credited guide, for the Figures page."""
    now = now or timezone.now()
    orders, _since = _period_orders(actor, days=days, now=now)
    net = F("total_amount") - F("refunded_amount")
    by_store = list(
        orders.values("store", "store__code", "store__name")
        .annotate(orders=Count("pk"), gmv=Sum(net), members_gmv=Sum(net, filter=Q(member__isnull=False)))
        .order_by("-gmv")
    )
    by_guide = list(
        orders.values("staff", "staff__display_name", "staff__username", "staff__store__code")
        .annotate(orders=Count("pk"), gmv=Sum(net))
        .order_by("-gmv")[:TOP_GUIDES]
    )
    top_gmv = max([row["gmv"] or 0 for row in by_store] + [0])
    for row in by_store:
        row["share"] = _ratio(row["gmv"] or 0, top_gmv)
    return {**sales_totals(actor, days=days, now=now), "by_store": by_store, "by_guide": by_guide}


def my_sales(user, *, now=None) -> dict:
    """A guide's own figures for the phone's Today page: orders credited to them (staff attribution)
    this calendar month and in the last 30 days, net of refunds, in the reporting currency."""
    now = now or timezone.now()
    month_start = timezone.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    net = F("total_amount") - F("refunded_amount")
    orders = scope(Order.objects.filter(staff=user, currency=settings.SIYU_CURRENCIES[0]), user)
    totals = orders.filter(placed_at__lt=now).aggregate(
        month_orders=Count("pk", filter=Q(placed_at__gte=month_start)),
        month_gmv=Sum(net, filter=Q(placed_at__gte=month_start), default=Decimal(0)),
        orders_30d=Count("pk", filter=Q(placed_at__gte=now - timedelta(days=30))),
        gmv_30d=Sum(net, filter=Q(placed_at__gte=now - timedelta(days=30)), default=Decimal(0)),
    )
    return {"currency": settings.SIYU_CURRENCIES[0], **totals}


def overview(actor) -> dict:
    """The last 30 days' sales, for the overview page's cards."""
    return sales_totals(actor, days=30)


def rfm(actor) -> dict:
    rows = dict(scope(MemberRFM.objects.all(), actor).values_list("segment").annotate(n=Count("pk")).order_by())
    total = sum(rows.values())
    segments = [
        {"key": key, "label": label, "members": rows.get(key, 0), "share": _ratio(rows.get(key, 0), total)}
        for key, label in RFMSegment.choices
    ]
    boundaries = RFMBoundaries.objects.filter(pk=1).first()
    return {"segments": segments, "members": total, "computed_at": boundaries.computed_at if boundaries else None}


def tiers(actor, *, days: int) -> dict:
    distribution = tier_queries.distribution(actor)
    levels = tier_queries.levels()
    total = distribution.get("total") or 0
    rows = [
        {
            "name": level.name,
            "rank": level.rank,
            "members": distribution["per_level"].get(level.pk, 0),
            "share": _ratio(distribution["per_level"].get(level.pk, 0), total),
        }
        for level in levels
    ]
    return {"levels": rows, "total": total, "movement": tier_queries.movement(actor, days=days)}


def points(actor) -> dict:
    return point_queries.liability(actor)


def figures(actor, *, days: int = 30, now=None) -> dict:
    """Everything the Figures page and /api/v1/insights/figures/ show."""
    return {
        "sales": sales(actor, days=days, now=now),
        "rfm": rfm(actor),
        "tiers": tiers(actor, days=days),
        "points": points(actor),
    }
