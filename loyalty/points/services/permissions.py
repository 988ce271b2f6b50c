"""Who may do what with points, asked by the dashboard's views before they act (the services still
refuse on their own: `scrm.permissions.require_write`)."""

from __future__ import annotations

from scrm.permissions import can_write, has_scope


def can_edit_rewards(actor) -> bool:
    """The rewards catalogue is the brand's: operators and brand-wide keys add, change and delete rewards."""
    return can_write(actor, "rewards")


def can_edit_policy(actor) -> bool:
    """How points are earned and expire is the brand's call: operators and brand-wide keys."""
    return can_write(actor, "rewards")


def can_redeem(actor) -> bool:
    """Redeeming and cancelling redemptions at the till: anyone holding points:write (every staff
    role, within their store; keys with the scope)."""
    return has_scope(actor, "points:write")


def can_adjust(actor) -> bool:
    """Adding or removing points by hand: holders of point_adjustments:write (operators, keys)."""
    return has_scope(actor, "point_adjustments:write")
