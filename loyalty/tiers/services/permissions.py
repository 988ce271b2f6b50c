"""Who may change the tier programme, asked by the dashboard's views (setting one member's floor
is `floors.can_set_floor`)."""

from __future__ import annotations

from scrm.permissions import can_write


def can_edit_ladder(actor) -> bool:
    """The ladder is the brand's: operators and brand-wide keys holding tiers:write edit it."""
    return can_write(actor, "tiers")
