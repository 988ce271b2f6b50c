"""Segment filters on tiers and orders, registered by TiersConfig.ready():

    {"field": "tier", "op": "in", "value": [level ids]}          # or "not_in"
    {"field": "tier", "op": "gte", "value": level id}            # that level or higher
    {"field": "net_spend", "op": "between", "value": {"days": 90, "min": 500, "max": 2000}}
    {"field": "last_order", "op": "within_days", "value": 30}    # or "not_within_days" (never ordered too)
    {"field": "order_count", "op": "between", "value": {"days": 365, "min": 2}}

Net spend counts orders in the reporting currency, net of refunds; order counts leave out orders
refunded in full. `min` and `max` are inclusive and either may be left out (not both).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from loyalty.orders import sql as orders_sql
from loyalty.tiers import sql as tiers_sql
from loyalty.tiers.models import TierLevel
from members.segments import registry
from members.segments.registry import InvalidValue, Leaf, Value, register_filter

MAX_DAYS = 3660

_LIVE_TIER = f"SELECT mt.member_id FROM {tiers_sql.MEMBER_TIER} mt WHERE mt.level_id = ANY(%s)"


def _level_options() -> list[tuple[int, str]]:
    """The ladder's tiers as the audience builder offers them (picked by name, stored by id)."""
    levels = TierLevel.objects.select_related("ladder").order_by("ladder_id", "rank")
    several = len({level.ladder_id for level in levels}) > 1
    return [(level.pk, f"{level.ladder} · {level.name}" if several else level.name) for level in levels]


def _validate_levels(leaf: Leaf) -> None:
    wanted = leaf.value if isinstance(leaf.value, list) else [leaf.value]
    found = set(TierLevel.objects.filter(id__in=wanted).values_list("id", flat=True))
    missing = [v for v in wanted if v not in found]
    if missing:
        raise InvalidValue(
            _("Unknown tier level id(s): %(ids)s.") % {"ids": ", ".join(map(str, missing))}, subpath=leaf.path
        )


def _tier_sql(leaf: Leaf, m: str):
    if leaf.op == "gte":
        return (
            f"{m}.id IN (SELECT mt.member_id FROM {tiers_sql.MEMBER_TIER} mt "
            f"JOIN {tiers_sql.TIER_LEVEL} l ON l.id = mt.level_id "
            f"WHERE l.rank >= (SELECT rank FROM {tiers_sql.TIER_LEVEL} WHERE id = %s))",
            [leaf.value],
        )
    sql = f"{m}.id IN ({_LIVE_TIER})"
    return (f"NOT {sql}" if leaf.op == "not_in" else sql), [sorted(set(leaf.value))]


def _validate_range(kind: str):
    def validate(leaf: Leaf) -> None:
        value = leaf.value
        if not isinstance(value, dict):
            raise InvalidValue(_('Write the range as {"days": 90, "min": 500, "max": 2000}.'), subpath=leaf.path)
        unknown = sorted(set(value) - {"days", "min", "max"})
        if unknown:
            raise InvalidValue(_("Unknown key(s): %(keys)s.") % {"keys": ", ".join(unknown)}, subpath=leaf.path)
        days = value.get("days")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise InvalidValue(
                _("days must be a whole number from 1 to %(max)d.") % {"max": MAX_DAYS}, subpath=f"{leaf.path}.days"
            )
        bounds = {}
        for key in ("min", "max"):
            bound = value.get(key)
            if bound is None:
                continue
            if isinstance(bound, bool) or not isinstance(bound, int | float | str):
                raise InvalidValue(_("%(key)s must be a number.") % {"key": key}, subpath=f"{leaf.path}.{key}")
            try:
                bounds[key] = Decimal(str(bound))
            except InvalidOperation:
                raise InvalidValue(
                    _("%(key)s must be a number.") % {"key": key}, subpath=f"{leaf.path}.{key}"
                ) from None
            if not bounds[key].is_finite() or bounds[key] < 0:
                raise InvalidValue(_("%(key)s cannot be negative.") % {"key": key}, subpath=f"{leaf.path}.{key}")
            if kind == "count" and bounds[key] != bounds[key].to_integral_value():
                raise InvalidValue(_("%(key)s must be a whole number.") % {"key": key}, subpath=f"{leaf.path}.{key}")
        if not bounds:
            raise InvalidValue(_("Give min, max or both."), subpath=leaf.path)
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            raise InvalidValue(_("min is above max."), subpath=f"{leaf.path}.min")

    return validate


def _range_sql(aggregate: str, where: str, currency: bool):
    """Members whose `aggregate` over their orders of the last N days lies in [min, max]. Members
    without such orders count as 0: with min > 0 they are out, otherwise they are in."""

    def compile_sql(leaf: Leaf, m: str):
        value = leaf.value
        lo = Decimal(str(value["min"])) if value.get("min") is not None else None
        hi = Decimal(str(value["max"])) if value.get("max") is not None else None
        base = (
            f"SELECT o.member_id FROM {orders_sql.ORDER} o WHERE o.member_id IS NOT NULL {where}"
            "AND o.placed_at >= now() - make_interval(days => %s) "
            + ("AND o.currency = %s " if currency else "")
            + "GROUP BY o.member_id HAVING "
        )
        params: list = [value["days"]] + ([settings.SIYU_CURRENCIES[0]] if currency else [])
        if lo is not None and lo > 0:
            having, having_params = [f"{aggregate} >= %s"], [lo]
            if hi is not None:
                having.append(f"{aggregate} <= %s")
                having_params.append(hi)
            return f"{m}.id IN ({base}{' AND '.join(having)})", params + having_params
        if hi is None:
            return "true", []
        # No lower bound above zero: everyone except those above max (members without orders stay in).
        return f"{m}.id NOT IN ({base}{aggregate} > %s)", params + [hi]

    return compile_sql


def _last_order_sql(leaf: Leaf, m: str):
    sql = (
        f"EXISTS (SELECT 1 FROM {orders_sql.ORDER} o WHERE o.member_id = {m}.id "
        "AND o.placed_at >= now() - make_interval(days => %s))"
    )
    return (f"NOT {sql}" if leaf.op == "not_within_days" else sql), [leaf.value]


def register() -> None:
    group = _("Orders and tiers")
    registry.OPERATOR_LABELS.setdefault("not_within_days", _("not in the last N days"))
    ids = Value("integer", many=True, minimum=1, options=_level_options)
    register_filter(
        "tier",
        _("Membership tier"),
        group=group,
        order=200,
        value_schema={"in": ids, "not_in": ids, "gte": Value("integer", minimum=1, options=_level_options)},
        compile_sql=_tier_sql,
        validate=_validate_levels,
    )
    days = Value("integer", minimum=1, maximum=MAX_DAYS)
    register_filter(
        "net_spend",
        _("Net spend in the last N days"),
        group=group,
        order=210,
        value_schema={"between": Value("any")},
        compile_sql=_range_sql("sum(o.total_amount - o.refunded_amount)", "", currency=True),
        validate=_validate_range("money"),
    )
    register_filter(
        "last_order",
        _("Last order"),
        group=group,
        order=220,
        value_schema={"within_days": days, "not_within_days": days},
        compile_sql=_last_order_sql,
    )
    register_filter(
        "order_count",
        _("Orders in the last N days"),
        group=group,
        order=230,
        value_schema={"between": Value("any")},
        compile_sql=_range_sql("count(*)", "AND o.status <> 'refunded' ", currency=False),
        validate=_validate_range("count"),
    )
