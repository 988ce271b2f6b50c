"""Writes of the tiers app, one module per concern: the ladder (`ladder`), recalculation for
everyone or some members (`recalculation`) and manual floors (`floors`). Callers use this package's
names: `from loyalty.tiers import services; services.recalculate_tiers(...)`."""

from loyalty.tiers.services.floors import can_set_floor, set_floor
from loyalty.tiers.services.ladder import (
    LADDER_FIELDS,
    LADDER_ID,
    MAX_LEVELS,
    MAX_THRESHOLD,
    MAX_WINDOW_DAYS,
    get_ladder,
    save_ladder,
)
from loyalty.tiers.services.permissions import can_edit_ladder
from loyalty.tiers.services.recalculation import LOCK_KEY, RecalcResult, next_period_end, recalculate_tiers

__all__ = [
    "LADDER_FIELDS",
    "LADDER_ID",
    "LOCK_KEY",
    "MAX_LEVELS",
    "MAX_THRESHOLD",
    "MAX_WINDOW_DAYS",
    "RecalcResult",
    "can_edit_ladder",
    "can_set_floor",
    "get_ladder",
    "next_period_end",
    "recalculate_tiers",
    "save_ladder",
    "set_floor",
]
