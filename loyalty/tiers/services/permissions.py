"""Who may change the tier programme, asked by the dashboard's views (setting one member's floor
is `floors.can_set_floor`)."""

from __future__ import annotations


def can_edit_ladder(actor) -> bool:
    """The ladder is the brand's: operators edit it (API keys holding tiers:write, checked by the API)."""
    return getattr(actor, "is_operator", False) or getattr(actor, "api_key", None) is not None
