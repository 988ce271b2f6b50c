"""What loyalty.tiers plugs into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready(). Every app that plugs into another does it in a module of this name."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from loyalty.orders import hooks
from loyalty.tiers import privacy, queries, segments, tasks
from members import panels
from scrm import events, permissions


def register() -> None:
    from loyalty.tiers import timeline as tiers_timeline

    tiers_timeline.register()
    permissions.register(
        "tiers", _("Tier ladder, member tiers and their history"), store_roles="read", brand_setting=True
    )
    # Floors are set by operators and by managers for their own store's members (the service
    # refuses clerks); store roles therefore get write here.
    permissions.register("tier_floors", _("Manual tier floors"), store_roles="write")
    events.register_type("member.tier_changed", _("A member's tier level moved up or down"), resource="tiers")
    hooks.on_orders_changed(tasks.queue_after_orders_changed)
    panels.register("tier", template="tiers/_member_panel.html", context=queries.member_panel, order=10)
    segments.register()
    privacy.register()
    register_member_column()


def register_member_column() -> None:
    """The member's tier on the member list, as a badge in the level's colour."""
    from django.db.models import OuterRef, Subquery

    from loyalty.tiers.models import MemberTier
    from members import columns

    held = MemberTier.objects.filter(member=OuterRef("pk"))
    columns.register(
        "tier", _("Tier"), kind="badge", sortable=False, order=10,
        expression=lambda: Subquery(held.values("level__name")[:1]),
        colour=lambda: Subquery(held.values("level__colour")[:1]),
    )
