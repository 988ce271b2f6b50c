"""What loyalty.points plugs into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready(): the orders hook, the member 360 panel, the tiers "points" basis and the
audience builder's points filter."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.points import sql as points_sql


def queue_sync(order_ids: list[int], member_ids: list[int]) -> None:
    """Orders changed (created, refunded, linked or moved): earn / take back points in a task.
    Runs after the orders' transaction has committed (the hook's on_commit)."""
    from loyalty.orders import hooks
    from loyalty.points.tasks import sync_orders

    hooks.queue(sync_orders, order_ids, member_ids)


def panel_context(member, user) -> dict:
    from loyalty.points import queries

    return queries.member_panel(member, user)


def _points_basis_sql(*, for_members: bool) -> str:
    # Points earned on orders and by adjustment within the window, less what refunds took back;
    # redeemed or expired points still count as earned. (member_id, earned_at) is indexed.
    members = "AND l.member_id = ANY(%(member_ids)s) " if for_members else ""
    return (
        f"SELECT l.member_id, sum(l.points - l.clawed_back) AS value FROM {points_sql.POINT_LOT} l "
        "WHERE l.source IN ('order', 'adjustment') AND l.earned_at >= %(since)s AND l.earned_at < %(until)s "
        f"{members}GROUP BY l.member_id"
    )


def register_tier_basis() -> None:
    from loyalty.tiers import bases

    bases.register_basis("points", _("Points earned"), sql=_points_basis_sql)


def _balance_sql(leaf, m: str):
    subquery = f"(SELECT mp.balance FROM {points_sql.MEMBER_POINTS} mp WHERE mp.member_id = {m}.id)"
    if leaf.op == "gte":
        return f"coalesce({subquery}, 0) >= %s", [leaf.value]
    if leaf.op == "lte":
        return f"coalesce({subquery}, 0) <= %s", [leaf.value]
    low, high = sorted(leaf.value)
    return f"coalesce({subquery}, 0) BETWEEN %s AND %s", [low, high]


def register_segment_filter() -> None:
    from members.segments.registry import Value, register_filter

    points = Value("integer", minimum=0, maximum=2_000_000_000)
    register_filter(
        "points_balance",
        _("Points balance"),
        group=_("Points"),
        order=150,
        value_schema={"gte": points, "lte": points, "between": Value("integer", many=True, length=2, minimum=0)},
        compile_sql=_balance_sql,
    )


def register_member_column() -> None:
    """The points balance on the member list (0 for a member who never earned)."""
    from django.db.models import IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    from loyalty.points.models import MemberPoints
    from members import columns

    columns.register(
        "points", _("Points"), kind="number", order=20,
        expression=lambda: Coalesce(
            Subquery(MemberPoints.objects.filter(member=OuterRef("pk")).values("balance")[:1]),
            Value(0), output_field=IntegerField(),
        ),
    )


def register() -> None:
    from loyalty.points import timeline as points_timeline

    points_timeline.register()
    from loyalty.orders import hooks
    from members import panels
    from scrm import permissions

    permissions.register("points", _("Member points, ledger and redemptions"), store_roles="write")
    permissions.register("rewards", _("Rewards catalogue and points policy"), store_roles="read", brand_setting=True)
    permissions.register("point_adjustments", _("Manual points adjustments"), store_roles="none")
    from scrm import events

    for code, label in (("points.earned", _("A member's points went up (earned, adjusted, given back)")),
                        ("points.redeemed", _("A member's points went down (redeemed, adjusted, taken back)")),
                        ("points.expired", _("A member's points expired"))):
        events.register_type(code, label, resource="points")
    hooks.on_orders_changed(queue_sync)
    panels.register("points", template="points/_member_panel.html", context=panel_context, order=15)
    register_tier_basis()
    register_segment_filter()
    from loyalty.points import privacy

    privacy.register()
    register_member_column()
