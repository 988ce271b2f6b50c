"""Sections other apps add to the dashboard's overview page and to the staff phone's "Today" page
(sales figures, ...), so they show without scrm importing those apps.

    from scrm import overview
    overview.register("sales", template="insights/_overview.html", context=lambda user: {...}, order=10)
    overview.register("my_sales", template="insights/_today.html", context=..., page="today")
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
    page: str


_SECTIONS: dict[tuple[str, str], Section] = {}
PAGES = ("overview", "today")


def register(key: str, *, template: str, context: Callable, order: int = 50, page: str = "overview") -> None:
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}; one of {PAGES}")
    _SECTIONS[(page, key)] = Section(key=key, template=template, context=context, order=order, page=page)


def for_user(user, *, page: str = "overview") -> list[dict]:
    sections = sorted((s for s in _SECTIONS.values() if s.page == page), key=lambda s: (s.order, s.key))
    return [{"key": s.key, "template": s.template, "context": s.context(user)} for s in sections]
