"""Who an order is credited to (the attribution policy), and changing that policy (operators)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from loyalty.orders.models import AttributionPolicy, AttributionRule
from loyalty.orders.services.cleaning import Item
from loyalty.orders.services.permissions import can_manage_attribution
from members import sql as members_sql
from scrm import sql as scrm_sql
from scrm.actors import actor_user
from scrm.errors import Forbidden, InvalidInput
from scrm.models import STORE_ROLES
from scrm.permissions import has_scope
from scrm.sql import array, fetchall


def attribute(items: list[Item], info: dict, policy: AttributionPolicy) -> None:
    """Who each order is credited to (see AttributionPolicy)."""
    names = sorted({i.guide for i in items if i.guide})
    guides = (
        {
            username: (user_id, store_id)
            for username, user_id, store_id in fetchall(
                f"SELECT username, id, store_id FROM {scrm_sql.USER} "
                "WHERE username = ANY(%s::text[]) AND is_active AND role = ANY(%s::text[])",
                [array(names), array(STORE_ROLES)],
            )
        }
        if names
        else {}
    )
    served: dict[int, int] = {}
    if policy.rule == AttributionRule.LAST_SERVED:
        asks = [i for i in items if i.resolved_member and not (i.guide in guides and guides[i.guide][1] == i.store_id)]
        if asks:
            # Per order: the latest note written or relation added by active staff in the window
            # before the order was placed (both lookups walk a (member, time) index).
            served = dict(
                fetchall(
                    f"""SELECT k.n, s.staff_id
                FROM unnest(%s::int[], %s::bigint[], %s::timestamptz[], %s::bigint[])
                     AS k(n, member_id, placed_at, store_id)
                CROSS JOIN LATERAL (
                    SELECT staff_id FROM (
                        (SELECT n.author_id AS staff_id, n.created_at AS at FROM {members_sql.SERVICE_NOTE} n
                         JOIN {scrm_sql.USER} u ON u.id = n.author_id AND u.is_active AND u.role <> 'operator'
                         WHERE n.member_id = k.member_id AND n.created_at <= k.placed_at
                           AND (k.store_id IS NULL OR u.store_id = k.store_id)
                           AND n.created_at >= k.placed_at - %s * interval '1 day'
                         ORDER BY n.created_at DESC LIMIT 1)
                        UNION ALL
                        (SELECT r.staff_id, r.added_at FROM {members_sql.STAFF_RELATION} r
                         JOIN {scrm_sql.USER} u ON u.id = r.staff_id AND u.is_active AND u.role <> 'operator'
                         WHERE r.member_id = k.member_id AND r.added_at <= k.placed_at
                           AND (k.store_id IS NULL OR u.store_id = k.store_id)
                           AND r.added_at >= k.placed_at - %s * interval '1 day'
                         ORDER BY r.added_at DESC LIMIT 1)
                    ) latest ORDER BY at DESC LIMIT 1
                ) s""",
                    [
                        array(i.index for i in asks),
                        array(i.resolved_member for i in asks),
                        array(i.placed_at for i in asks),
                        array(i.store_id for i in asks),
                        policy.window_days,
                        policy.window_days,
                    ],
                )
            )
    for item in items:
        guide = guides.get(item.guide) if item.guide else None
        # The member's own guide is credited for sales at the guide's store only: a sale at another
        # store is that store's (its staff may be credited by name or by serving the member there).
        _home, owner, owner_store = info.get(item.resolved_member, (None, None, None))
        if item.store_id is not None and owner_store != item.store_id:
            owner = None
        if guide is not None and item.store_id is not None and guide[1] == item.store_id:
            item.staff_id, item.attribution = guide[0], AttributionRule.GIVEN
        elif item.index in served:
            item.staff_id, item.attribution = served[item.index], AttributionRule.LAST_SERVED
        elif owner is not None:
            item.staff_id, item.attribution = owner, AttributionRule.OWNER
        else:
            item.staff_id, item.attribution = None, AttributionRule.NONE


@transaction.atomic
def set_attribution_policy(*, rule, window_days, actor) -> AttributionPolicy:
    if not can_manage_attribution(actor) or not has_scope(actor, "orders:write"):
        raise Forbidden(
            _(
                "How orders are credited (orders:write) is set for the whole brand: only operators and brand-wide "
                "API keys may change it."
            ),
            details={"scope": ["orders:write"]},
        )
    errors = {}
    if rule not in [r.value for r in AttributionPolicy.RULES]:
        errors["rule"] = [_("One of: %(choices)s.") % {"choices": ", ".join(r.value for r in AttributionPolicy.RULES)}]
    if isinstance(window_days, str) and window_days.strip().isdigit():
        window_days = int(window_days)
    if not isinstance(window_days, int) or isinstance(window_days, bool) or not 1 <= window_days <= 365:
        errors["window_days"] = [_("A whole number of days from 1 to 365.")]
    if errors:
        raise InvalidInput(details=errors)
    policy, _created = AttributionPolicy.objects.update_or_create(
        pk=1, defaults={"rule": rule, "window_days": window_days, "updated_by": actor_user(actor)}
    )
    return policy
