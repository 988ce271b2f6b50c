"""Segment filters over RFM (recency, frequency and monetary scores, and the RFM segment), and the
cockpit's: bought in a period on a channel, orders in a period, moved into a 5A stage in a period,
added through a channel code."""

from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from insights.models import RFMSegment
from loyalty.orders import sql as orders_sql
from loyalty.orders.models import OrderChannel
from members import sql as members_sql
from members.models import MemberEvent, Stage
from members.segments.registry import InvalidValue, Leaf, Value, register_filter

SCORES = Value("integer", many=True, minimum=1, maximum=5)
SEGMENTS = Value("string", many=True, choices=RFMSegment.choices)


def _rfm_sql(column: str):
    def compile_sql(leaf: Leaf, m: str):
        sql = f"EXISTS (SELECT 1 FROM insights_memberrfm rfm WHERE rfm.member_id = {m}.id AND rfm.{column} = ANY(%s))"
        return (f"NOT {sql}" if leaf.op == "not_in" else sql), [sorted(set(leaf.value))]

    return compile_sql


def register() -> None:
    group = _("Purchases (RFM)")
    for order, (key, column, label) in enumerate(
        (
            ("rfm_recency", "r_score", _("Recency score (5 = bought most recently)")),
            ("rfm_frequency", "f_score", _("Frequency score (5 = buys most often)")),
            ("rfm_monetary", "m_score", _("Monetary score (5 = spends most)")),
        )
    ):
        register_filter(
            key,
            label,
            group=group,
            order=300 + order,
            value_schema={"in": SCORES, "not_in": SCORES},
            compile_sql=_rfm_sql(column),
        )
    register_filter(
        "rfm_segment",
        _("RFM segment"),
        group=group,
        order=303,
        value_schema={"in": SEGMENTS, "not_in": SEGMENTS},
        compile_sql=_rfm_sql("segment"),
    )
    register_cockpit()
    register_activity()


# --- the cockpit's conditions: each figure of the cockpit is the count of a definition made of these
# (and the member centre's own), so its drill-down lists exactly the members it counts. Dates are the
# brand's local days, both ends included, as the "joined" filter reads them.

PERIOD_CHANNEL = Value("any", many=True, length=3)
ANY_CHANNEL = "any"


def _day(raw, leaf: Leaf, index: int) -> datetime.date:
    try:
        return datetime.date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        return None


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _period_of(leaf: Leaf) -> tuple[datetime.datetime, datetime.datetime]:
    first, last = datetime.date.fromisoformat(leaf.value[0]), datetime.date.fromisoformat(leaf.value[1])
    return _start_of(first), _start_of(last + datetime.timedelta(days=1))


def _check_period(leaf: Leaf) -> None:
    first, last = (_day(leaf.value[i], leaf, i) for i in (0, 1))
    for i, day in enumerate((first, last)):
        if day is None:
            raise InvalidValue(_("The value must be a date written YYYY-MM-DD."), subpath=f"{leaf.path}[{i}]")
    if first > last:
        raise InvalidValue(_("The first day comes after the last."), subpath=f"{leaf.path}[1]")


def _validate_bought(leaf: Leaf) -> None:
    _check_period(leaf)
    if leaf.value[2] != ANY_CHANNEL and leaf.value[2] not in OrderChannel.values:
        raise InvalidValue(
            _("The channel is %(any)s or one of: %(channels)s.")
            % {"any": ANY_CHANNEL, "channels": ", ".join(OrderChannel.values)},
            subpath=f"{leaf.path}[2]",
        )


def _live_order(o: str) -> str:
    return f"{o}.refunded_amount < {o}.total_amount"


def _bought_sql(leaf: Leaf, m: str):
    since, until = _period_of(leaf)
    sql = (f"EXISTS (SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = {m}.id AND o.placed_at >= %s "
           f"AND o.placed_at < %s AND {_live_order('o')}")
    params = [since, until]
    if leaf.value[2] != ANY_CHANNEL:
        sql += " AND o.channel = %s"
        params.append(leaf.value[2])
    return sql + ")", params


def _orders_threshold(raw) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    return raw if isinstance(raw, int) and 1 <= raw <= 1000 else None


def _validate_orders(leaf: Leaf) -> None:
    _check_period(leaf)
    if _orders_threshold(leaf.value[2]) is None:
        raise InvalidValue(_("The number of orders is a whole number from 1 to 1000."), subpath=f"{leaf.path}[2]")


def _orders_sql(leaf: Leaf, m: str):
    since, until = _period_of(leaf)
    n = _orders_threshold(leaf.value[2])
    # Counting stops at n: a member with thousands of orders costs no more than one with n.
    return (f"(SELECT count(*) FROM (SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = {m}.id "
            f"AND o.placed_at >= %s AND o.placed_at < %s AND {_live_order('o')} LIMIT %s) n) >= %s",
            [since, until, n, n])


# A profile change of the stage is written on the member's timeline as {"changes": {"stage": [old, new]}}.
STAGE_CHANGE_KINDS = (MemberEvent.Kind.UPDATED, MemberEvent.Kind.STAGE)
STAGE_TO_SQL = "{e}.data -> 'changes' -> 'stage' ->> 1"


def _validate_moved(leaf: Leaf) -> None:
    _check_period(leaf)
    if leaf.value[2] not in Stage.values:
        raise InvalidValue(_("The stage is one of: %(stages)s.") % {"stages": ", ".join(Stage.values)},
                           subpath=f"{leaf.path}[2]")


def _moved_sql(leaf: Leaf, m: str):
    since, until = _period_of(leaf)
    return (f"EXISTS (SELECT 1 FROM {members_sql.MEMBER_EVENT} e WHERE e.member_id = {m}.id "
            f"AND e.kind = ANY(%s) AND e.created_at >= %s AND e.created_at < %s "
            f"AND {STAGE_TO_SQL.format(e='e')} = %s)",
            [[str(k) for k in STAGE_CHANGE_KINDS], since, until, leaf.value[2]])


def _joined_via_sql(leaf: Leaf, m: str):
    sql = (f"EXISTS (SELECT 1 FROM {members_sql.STAFF_RELATION} r WHERE r.member_id = {m}.id "
           "AND r.state = ANY(%s))")
    return (f"NOT {sql}" if leaf.op == "not_in" else sql), [sorted(set(leaf.value))]


def _channel_code_options():
    from wecom.models import ChannelCode

    return list(ChannelCode.objects.order_by("name").values_list("state", "name")[:500])


def register_cockpit() -> None:
    group = _("Purchases and journey")
    register_filter(
        "bought", _("Bought in a period on a channel [first day, last day, channel or \"any\"]"),
        group=group, order=310, value_schema={"between": PERIOD_CHANNEL},
        compile_sql=_bought_sql, validate=_validate_bought,
    )
    register_filter(
        "orders_between", _("Orders in a period [first day, last day, at least n]"),
        group=group, order=311, value_schema={"at_least": PERIOD_CHANNEL},
        compile_sql=_orders_sql, validate=_validate_orders,
    )
    register_filter(
        "stage_moved", _("Moved into a 5A stage in a period [first day, last day, stage]"),
        group=group, order=312, value_schema={"between": PERIOD_CHANNEL},
        compile_sql=_moved_sql, validate=_validate_moved,
    )
    states = Value("string", many=True, options=_channel_code_options)
    register_filter(
        "joined_via", _("Added through a channel code"), group=group, order=313,
        value_schema={"in": states, "not_in": states}, compile_sql=_joined_via_sql,
    )


# --- the cockpit's activity conditions: a member did something of a kind in a period (the same
# sources the activity summary counts, insights.cockpit.activity), received or clicked a campaign,
# had bought by a day or not.

PERIOD_KIND = Value("any", many=True, length=3)
CAMPAIGN_WHAT = Value("any", many=True, length=2)
CAMPAIGNS_WHAT = Value("any", many=True, length=4)
# A part of a campaign's recipients: the delivery states it counts (None: every delivery, the
# targeted), as the campaigns' results count them (campaigns.services.results.Figures).
CAMPAIGN_STATES = {"targeted": None, "suppressed": ["suppressed"], "held_out": ["held_out"],
                   "sent": ["sent", "accepted"], "delivered": ["sent"]}
CAMPAIGN_PARTS = (*CAMPAIGN_STATES, "clicked", "converted")
ALL_CAMPAIGNS = "all"  # which campaigns of a period: every one, "brand+<store id>" or "store:<store id>"
_CAMPAIGN_SET = re.compile(r"^(brand\+|store:)([1-9][0-9]{0,17})$")
_NAMED = re.compile(r"%\((\w+)\)s")


def _validate_did(leaf: Leaf) -> None:
    from insights.cockpit.activity import SOURCES

    _check_period(leaf)
    if leaf.value[2] not in SOURCES:
        raise InvalidValue(_("The activity is one of: %(kinds)s.") % {"kinds": ", ".join(SOURCES)},
                           subpath=f"{leaf.path}[2]")


def _did_sql(leaf: Leaf, m: str):
    from insights.cockpit.activity import exists_sql

    since, until = _period_of(leaf)
    return exists_sql(leaf.value[2], m), [since, until]


def _campaign_id(raw) -> int | None:
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else None


def _check_part(leaf: Leaf, index: int) -> None:
    if leaf.value[index] not in CAMPAIGN_PARTS:
        raise InvalidValue(_("The part is one of: %(parts)s.") % {"parts": ", ".join(CAMPAIGN_PARTS)},
                           subpath=f"{leaf.path}[{index}]")


def _validate_campaign(leaf: Leaf) -> None:
    if _campaign_id(leaf.value[0]) is None:
        raise InvalidValue(_("The campaign is named by its id, a whole number."), subpath=f"{leaf.path}[0]")
    _check_part(leaf, 1)


def _validate_campaigns(leaf: Leaf) -> None:
    _check_period(leaf)
    _check_part(leaf, 2)
    raw = leaf.value[3]
    if raw != ALL_CAMPAIGNS and not (isinstance(raw, str) and _CAMPAIGN_SET.match(raw)):
        raise InvalidValue(_("The campaigns are %(all)s, brand+<store id> (the brand's and that store's) or "
                             "store:<store id> (that store's own).") % {"all": ALL_CAMPAIGNS},
                           subpath=f"{leaf.path}[3]")


def _positional(sql: str, values: dict) -> tuple[str, list]:
    """`sql` written with named parameters (the campaigns' results SQL) with positional ones."""
    return _NAMED.sub("%s", sql), [values[name] for name in _NAMED.findall(sql)]


def _part_sql(part: str, m: str, which: str, which_params: list):
    """Member `m` is in `part` of a campaign `which` (a condition on the campaign `c`) names: a
    delivery of the campaign in the part's states; clicked, a delivery and a click on its links;
    converted, a delivery sent and an order whose last touch is the campaign (the results' rules)."""
    from campaigns.links import sql as links_sql
    from campaigns.models import Campaign
    from campaigns.services import results

    sql = (f"EXISTS (SELECT 1 FROM {Campaign._meta.db_table} c JOIN {results.DELIVERY} d "
           f"ON d.campaign_id = c.id AND d.send_month = c.send_month WHERE {which} AND d.member_id = {m}.id")
    params = list(which_params)
    states = CAMPAIGN_STATES.get(part)
    if part == "clicked":
        sql += (f" AND EXISTS (SELECT 1 FROM {links_sql.CLICK} k WHERE k.campaign_id = d.campaign_id "
                "AND k.member_id = d.member_id)")
    elif part == "converted":
        order, order_params = _positional(
            f"EXISTS (SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = d.member_id AND {results.COUNTED_ORDER} "
            f"AND o.placed_at <= %(now)s AND ({results.LAST_TOUCH}) = d.campaign_id)",
            {"currency": settings.SIYU_CURRENCIES[0], "now": timezone.now(), "days": results.window_days()})
        sql += f" AND d.state = 'sent' AND {order}"
        params += order_params
    elif states is not None:
        sql += " AND d.state = ANY(%s)"
        params.append(states)
    return sql + ")", params


def _campaign_sql(leaf: Leaf, m: str):
    return _part_sql(leaf.value[1], m, "c.id = %s", [_campaign_id(leaf.value[0])])


def _campaigns_sql(leaf: Leaf, m: str):
    since, until = _period_of(leaf)
    which, params = "c.started_at >= %s AND c.started_at < %s", [since, until]
    found = _CAMPAIGN_SET.match(leaf.value[3]) if leaf.value[3] != ALL_CAMPAIGNS else None
    if found is not None:
        brand = found.group(1) == "brand+"
        which += " AND (c.store_id IS NULL OR c.store_id = %s)" if brand else " AND c.store_id = %s"
        params.append(int(found.group(2)))
    return _part_sql(leaf.value[2], m, which, params)


def _validate_day(leaf: Leaf) -> None:
    if _day(leaf.value, leaf, 0) is None:
        raise InvalidValue(_("The value must be a date written YYYY-MM-DD."))


def _bought_by_sql(leaf: Leaf, m: str):
    from insights.cockpit.activity import FIRST_ORDER_EXISTS

    return FIRST_ORDER_EXISTS.format(m=m), [_start_of(datetime.date.fromisoformat(leaf.value))]


def _not_bought_by_sql(leaf: Leaf, m: str):
    sql, params = _bought_by_sql(leaf, m)
    return f"NOT {sql}", params


def register_activity() -> None:
    group = _("Purchases and journey")
    register_filter(
        "did", _("Did in a period [first day, last day, activity]"), group=group, order=314,
        value_schema={"between": PERIOD_KIND}, compile_sql=_did_sql, validate=_validate_did,
    )
    register_filter(
        "campaign_part", _("A campaign's recipients [campaign id, part: targeted, suppressed, held_out, sent, "
                           "delivered, clicked or converted]"), group=group,
        order=315, value_schema={"in": CAMPAIGN_WHAT}, compile_sql=_campaign_sql, validate=_validate_campaign,
    )
    register_filter(
        "campaigns_part", _("Recipients of the campaigns started in a period [first day, last day, part, "
                            "campaigns: all, brand+<store id> or store:<store id>]"), group=group,
        order=318, value_schema={"in": CAMPAIGNS_WHAT}, compile_sql=_campaigns_sql, validate=_validate_campaigns,
    )
    register_filter(
        "bought_by", _("Had bought (an order not fully refunded) before a day"), group=group, order=316,
        value_schema={"before": Value("date")}, compile_sql=_bought_by_sql, validate=_validate_day,
    )
    register_filter(
        "not_bought_by", _("Had not bought (no order, or only refunded ones) before a day"), group=group,
        order=317, value_schema={"before": Value("date")}, compile_sql=_not_bought_by_sql, validate=_validate_day,
    )
