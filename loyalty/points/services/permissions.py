"""Who may do what with points, asked by the dashboard's views before they act (the services still
refuse on their own: `policy.require_operator`)."""

from __future__ import annotations

from loyalty.points.services.policy import is_operator
from scrm.permissions import has_scope


def can_edit_rewards(actor) -> bool:
    """The rewards catalogue is the brand's: operators add, change and delete rewards."""
    return is_operator(actor)


def can_edit_policy(actor) -> bool:
    """How points are earned and expire is the brand's call: operators."""
    return is_operator(actor)


def can_redeem(actor) -> bool:
    """Redeeming and cancelling redemptions at the till: anyone holding points:write (every staff
    role, within their store; keys with the scope)."""
    return has_scope(actor, "points:write")


def can_adjust(actor) -> bool:
    """Adding or removing points by hand: holders of point_adjustments:write (operators, keys)."""
    return has_scope(actor, "point_adjustments:write")
