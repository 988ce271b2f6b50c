"""Columns of the member list that other apps contribute (tier, points balance, spend, last order),
so the member centre lists them without importing those apps. Each column is an expression over
the member row (a correlated subquery), annotated on the page's one query, and sortable by its key
when `sortable`:

    from members import columns
    columns.register("points", _("Points"), expression=lambda: Subquery(...), kind="number", order=20)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KINDS = ("text", "number", "money", "date", "badge")


@dataclass(frozen=True)
class Column:
    key: str
    label: Any
    expression: Callable[[], Any]  # a fresh expression each time: annotate(**{f"col_{key}": ...})
    kind: str = "text"
    sortable: bool = True
    order: int = 100
    colour: Callable[[], Any] | None = None  # for a badge: an expression giving its colour

    @property
    def attr(self) -> str:
        return f"col_{self.key}"


_COLUMNS: dict[str, Column] = {}


def register(
    key: str,
    label,
    *,
    expression: Callable[[], Any],
    kind: str = "text",
    sortable: bool = True,
    order: int = 100,
    colour: Callable[[], Any] | None = None,
) -> Column:
    if kind not in KINDS:
        raise ValueError(f"column {key!r}: unknown kind {kind!r}")
    _COLUMNS[key] = Column(key, label, expression, kind, sortable, order, colour)
    return _COLUMNS[key]


def unregister(key: str) -> None:
    _COLUMNS.pop(key, None)


def all_columns() -> list[Column]:
    return sorted(_COLUMNS.values(), key=lambda c: (c.order, c.key))


def get(key: str) -> Column | None:
    return _COLUMNS.get(key)
