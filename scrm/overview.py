"""Sections other apps add to the dashboard's overview page (sales figures, ...), so the overview
shows them without scrm importing those apps.

    from scrm import overview
    overview.register("sales", template="insights/_overview.html", context=lambda user: {...}, order=10)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str
    template: str
    context: Callable
    order: int


_SECTIONS: dict[str, Section] = {}


def register(key: str, *, template: str, context: Callable, order: int = 50) -> None:
    _SECTIONS[key] = Section(key=key, template=template, context=context, order=order)


def for_user(user) -> list[dict]:
    return [
        {"key": s.key, "template": s.template, "context": s.context(user)}
        for s in sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))
    ]
