"""The cockpit's sales section: how much of each channel's buyers the pool holds ("sedimentation"),
repurchase (members with two or more orders, members who came back from the period before), order
value of pool members against other buyers, and the pool's share of GMV.

Buyers are counted per period: pool members by their home store (so a store's figures are its own
members' purchases wherever they bought), other buyers by the order's store (a distinct buyer
identity of an order no member holds yet, a "pending buyer", or an order with no identity at all).
An order counts when it is not fully refunded; money is net of refunds, in the reporting currency.
Distinct buyers of the preset periods are read from their summary, other periods counted live;
money is read from the sales-per-day summary."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from insights.cockpit import definitions as d
from insights.cockpit import services
from insights.cockpit.base import Chart, Cockpit, Figure, Period, Row, SectionData, Table, ratio, register_section
from insights.cockpit.members import _rows, as_of
from insights.models import BuyerKind, DailySales, PeriodBuyers
from loyalty.orders.models import OrderChannel

LIVE_TIMEOUT_MS = 20_000  # a period with no summary is counted live within this


class Buyers:
    """The buyers of one period as the cockpit sees them: per channel ("" = all), with `as_of` (None:
    counted live now) and `failed` when a live count took too long."""

    def __init__(self, rows: dict, as_of=None, failed: bool = False):
        self.rows, self.as_of, self.failed = rows, as_of, failed

    def get(self, channel: str = "", field: str = "members") -> int | None:
        if self.failed:
            return None
        return self.rows.get(channel, {}).get(field, 0)


def _stored(cockpit: Cockpit, period: Period) -> Buyers | None:
    marker = PeriodBuyers.objects.filter(start=period.start, end=period.end, whole_brand=True).first()
    if marker is None:
        return None
    rows = PeriodBuyers.objects.visible_to(cockpit.actor).filter(start=period.start, end=period.end)
    rows = rows.filter(whole_brand=True) if cockpit.whole_brand else rows.filter(whole_brand=False,
                                                                                 store_id=cockpit.store_id)
    found = {r.channel: {"members": r.members, "others": r.others, "repeat": r.repeat, "returning": r.returning}
             for r in rows}
    return Buyers(found, as_of=marker.computed_at)


def _live(cockpit: Cockpit, period: Period) -> Buyers:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", [LIVE_TIMEOUT_MS])
            rows = services.buyer_rows(period, store_id=cockpit.store_id, cursor=cursor)
    except OperationalError:  # the statement timed out: say so rather than wait
        return Buyers({}, failed=True)
    wanted = (True, None) if cockpit.whole_brand else (False, cockpit.store_id)
    return Buyers({k[2]: v for k, v in rows.items() if (k[0], k[1]) == wanted})


def buyers(cockpit: Cockpit, period: Period) -> Buyers:
    return _stored(cockpit, period) or _live(cockpit, period)


def _money(cockpit: Cockpit, period: Period) -> dict:
    """{channel or "": {"member_gmv", "member_orders", "other_gmv", "other_orders"}} from the summary."""
    member, other = Q(buyer=BuyerKind.MEMBER), Q(buyer=BuyerKind.OTHER)
    rows = (_rows(cockpit, DailySales).filter(day__range=(period.start, period.end)).values_list("channel")
            .annotate(member_gmv=Sum("gmv", filter=member, default=Decimal(0)),
                      member_orders=Sum("orders", filter=member, default=0),
                      other_gmv=Sum("gmv", filter=other, default=Decimal(0)),
                      other_orders=Sum("orders", filter=other, default=0)).order_by())
    out = {ch: {"member_gmv": a, "member_orders": b, "other_gmv": c, "other_orders": e} for ch, a, b, c, e in rows}
    total = {k: sum((v[k] for v in out.values()), Decimal(0) if k.endswith("gmv") else 0)
             for k in ("member_gmv", "member_orders", "other_gmv", "other_orders")}
    return {**out, "": total}


def _aov(gmv, orders):
    return (gmv / orders).quantize(Decimal("0.01")) if orders else None


def _share(b: Buyers, channel: str = ""):
    members, others = b.get(channel), b.get(channel, "others")
    return None if members is None else ratio(members, members + others)


def _headline(cockpit, period, now: Buyers, before: Buyers, earlier: Buyers, money, money_before, fresh_sales):
    previous = period.previous
    bought, bought_before = cockpit.where(d.bought(period)), cockpit.where(d.bought(previous))
    repeat_def, repeat_before_def = (cockpit.where(d.orders_at_least(period, 2)),
                                     cockpit.where(d.orders_at_least(previous, 2)))
    back_def = cockpit.where(d.bought(previous), d.bought(period))
    back_before_def = cockpit.where(d.bought(previous.previous), d.bought(previous))
    m, mb = money[""], money_before[""]
    members = now.get()
    return [
        Figure("buyers", _("Pool members who bought"), members, before.get(), as_of=now.as_of,
               definition=bought, previous_definition=bought_before),
        Figure("buyers_in_pool", _("Share of buyers in the pool"), _share(now), _share(before), kind="ratio",
               as_of=now.as_of, definition=bought, previous_definition=bought_before, members=members,
               note=_("Pool members among everyone who bought (other buyers: pending buyer identities and "
                      "orders with no identity).")),
        Figure("repeat_buyers", _("Members with two or more orders"), now.get("", "repeat"),
               before.get("", "repeat"), as_of=now.as_of, definition=repeat_def,
               previous_definition=repeat_before_def),
        Figure("repurchase_rate", _("Repurchase rate"), ratio(now.get("", "repeat") or 0, members),
               ratio(before.get("", "repeat") or 0, before.get()), kind="ratio", as_of=now.as_of,
               definition=repeat_def, previous_definition=repeat_before_def, members=now.get("", "repeat"),
               note=_("Members with two or more orders in the period, of the pool members who bought.")),
        Figure("returning_buyers", _("Returning members"), now.get("", "returning"), before.get("", "returning"),
               as_of=now.as_of, definition=back_def, previous_definition=back_before_def,
               note=_("Members who bought in the period before and again in this one.")),
        Figure("returning_rate", _("Returning rate"), ratio(now.get("", "returning") or 0, before.get()),
               ratio(before.get("", "returning") or 0, earlier.get()), kind="ratio", as_of=now.as_of,
               definition=back_def, previous_definition=back_before_def, members=now.get("", "returning"),
               note=_("Of the pool members who bought in the period before, the share who bought again.")),
        Figure("gmv", _("GMV (net)"), m["member_gmv"] + m["other_gmv"], mb["member_gmv"] + mb["other_gmv"],
               kind="money", as_of=fresh_sales, definition=bought, previous_definition=bought_before,
               members=members, note=_("Opens the pool members among its buyers.")),
        Figure("member_gmv_share", _("Pool members' share of GMV"),
               ratio(m["member_gmv"], m["member_gmv"] + m["other_gmv"]),
               ratio(mb["member_gmv"], mb["member_gmv"] + mb["other_gmv"]), kind="ratio", as_of=fresh_sales,
               definition=bought, previous_definition=bought_before, members=members),
        Figure("aov_members", _("Average order value, pool members"), _aov(m["member_gmv"], m["member_orders"]),
               _aov(mb["member_gmv"], mb["member_orders"]), kind="money", as_of=fresh_sales, definition=bought,
               previous_definition=bought_before, members=members),
        Figure("aov_others", _("Average order value, other buyers"), _aov(m["other_gmv"], m["other_orders"]),
               _aov(mb["other_gmv"], mb["other_orders"]), kind="money", as_of=fresh_sales,
               note=_("Buyers not in the pool: no member list to open.")),
    ]


def _channels(now: Buyers, before: Buyers, money: dict, money_before: dict) -> list[str]:
    found = {c for c in (*now.rows, *before.rows, *money, *money_before) if c}
    order = list(OrderChannel.values)
    return sorted(found, key=lambda c: order.index(c) if c in order else len(order))


def _by_channel(cockpit, period, now, before, money, money_before, fresh_sales) -> tuple[Table, Table, Chart]:
    labels = dict(OrderChannel.choices)
    previous = period.previous
    sediment, sales, shares = [], [], []
    for channel in _channels(now, before, money, money_before):
        label = str(labels.get(channel, channel))
        bought = cockpit.where(d.bought(period, channel))
        bought_before = cockpit.where(d.bought(previous, channel))
        members = now.get(channel)
        share = Figure(f"in_pool_{channel}", label, _share(now, channel), _share(before, channel), kind="ratio",
                       as_of=now.as_of, definition=bought, previous_definition=bought_before, members=members)
        shares.append(share)
        sediment.append(Row(channel, label, [
            Figure(f"buyers_{channel}", label, members, before.get(channel), as_of=now.as_of, definition=bought,
                   previous_definition=bought_before),
            Figure(f"others_{channel}", label, now.get(channel, "others"), before.get(channel, "others"),
                   kind="count", as_of=now.as_of),
            share,
        ]))
        m = money.get(channel) or {"member_gmv": Decimal(0), "member_orders": 0, "other_gmv": Decimal(0),
                                   "other_orders": 0}
        mb = money_before.get(channel) or {"member_gmv": Decimal(0), "member_orders": 0,
                                           "other_gmv": Decimal(0), "other_orders": 0}
        sales.append(Row(channel, label, [
            Figure(f"member_gmv_{channel}", label, m["member_gmv"], mb["member_gmv"], kind="money",
                   as_of=fresh_sales, definition=bought, previous_definition=bought_before, members=members),
            Figure(f"other_gmv_{channel}", label, m["other_gmv"], mb["other_gmv"], kind="money", as_of=fresh_sales),
            Figure(f"aov_members_{channel}", label, _aov(m["member_gmv"], m["member_orders"]),
                   _aov(mb["member_gmv"], mb["member_orders"]), kind="money", as_of=fresh_sales,
                   definition=bought, previous_definition=bought_before, members=members),
            Figure(f"aov_others_{channel}", label, _aov(m["other_gmv"], m["other_orders"]),
                   _aov(mb["other_gmv"], mb["other_orders"]), kind="money", as_of=fresh_sales),
        ]))
    sediment_table = Table("buyers_by_channel", _("Buyers in the pool by channel"),
                           [_("Pool members who bought"), _("Other buyers"), _("Share in the pool")], sediment,
                           label_header=_("Channel"))
    sales_table = Table("sales_by_channel", _("Sales by channel"),
                        [_("GMV, pool members"), _("GMV, other buyers"), _("Average order value, pool members"),
                         _("Average order value, other buyers")], sales, label_header=_("Channel"))
    chart = Chart("buyers_in_pool", _("Share of buyers in the pool, by channel (%)"), "bar",
                  [r.label for r in sediment], [(_("Share in the pool"), shares)])
    return sediment_table, sales_table, chart


def sales_section(cockpit: Cockpit) -> SectionData:
    period = cockpit.period
    now, before = buyers(cockpit, period), buyers(cockpit, period.previous)
    earlier = buyers(cockpit, period.previous.previous)
    money, money_before = _money(cockpit, period), _money(cockpit, period.previous)
    fresh_sales = as_of("sales")
    figures = _headline(cockpit, period, now, before, earlier, money, money_before, fresh_sales)
    sediment, sales, chart = _by_channel(cockpit, period, now, before, money, money_before, fresh_sales)
    notes = [_("Orders count when not fully refunded; money is net of refunds, in %(currency)s.")
             % {"currency": settings.SIYU_CURRENCIES[0]}]
    if now.failed or before.failed or earlier.failed:
        notes.append(_("Buyers of this period took too long to count live: pick a preset period, whose buyers "
                       "are kept counted."))
    if fresh_sales is None:
        notes.append(_("The sales summary has not been built yet: it is at the next scheduled refresh."))
    return SectionData("sales", _("Buyers and sales"), figures=figures, tables=[sediment, sales], charts=[chart],
                       notes=notes)


def register() -> None:
    register_section("sales", gettext_lazy("Buyers and sales"), build=sales_section, order=30)
