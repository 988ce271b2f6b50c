"""A registry of page sections that other apps contribute: each is a template and a function giving
its context, shown in order. The member page's panels (members/panels.py) and the overview and
phone "Today" sections (scrm/overview.py) are registries of this kind, so the page's own app never
imports the apps that fill it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str
    template: str
    context: Callable
    order: int


class SectionRegistry:
    def __init__(self) -> None:
        self._sections: dict[str, Section] = {}

    def register(self, key: str, *, template: str, context: Callable, order: int = 50) -> None:
        self._sections[key] = Section(key=key, template=template, context=context, order=order)

    def render_context(self, *args) -> list[dict]:
        """[{key, template, context}] in order; `args` go to each section's context function."""
        return [
            {"key": s.key, "template": s.template, "context": s.context(*args)}
            for s in sorted(self._sections.values(), key=lambda s: (s.order, s.key))
        ]
