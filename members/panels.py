"""Panels on the member 360 page that other apps contribute (orders, tiers, communities, KOC),
so the member centre shows them without importing those apps.

    from members import panels
    panels.register("orders", template="orders/_member_panel.html", context=lambda member, user: {...}, order=20)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    context: Callable
    order: int


_PANELS: dict[str, Panel] = {}


def register(key: str, *, template: str, context: Callable, order: int = 50) -> None:
    _PANELS[key] = Panel(key=key, template=template, context=context, order=order)


def for_member(member, user) -> list[dict]:
    return [
        {"key": p.key, "template": p.template, "context": p.context(member, user)}
        for p in sorted(_PANELS.values(), key=lambda p: (p.order, p.key))
    ]
