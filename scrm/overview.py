"""Sections other apps add to the dashboard's overview page and to the staff phone's "Today" page
(member counts, sales figures, ...), so they show without scrm importing those apps.

    from scrm import overview
    overview.register("members", template="members/_overview_cards.html", context=..., page="overview_cards")
    overview.register("sales", template="insights/_overview.html", context=lambda user: {...}, order=10)
    overview.register("my_sales", template="insights/_today.html", context=..., page="today")

Pages: "overview_cards" are the cards at the head of the overview, in the row the organisation's own
(stores, staff) close; "overview" the sections below that row; "today" the phone's home page.
"""

from __future__ import annotations

from collections.abc import Callable

from scrm.sections import SectionRegistry

_PAGES = {"overview_cards": SectionRegistry(), "overview": SectionRegistry(), "today": SectionRegistry()}


def register(key: str, *, template: str, context: Callable, order: int = 50, page: str = "overview") -> None:
    if page not in _PAGES:
        raise ValueError(f"unknown page {page!r}; one of {tuple(_PAGES)}")
    _PAGES[page].register(key, template=template, context=context, order=order)


def for_user(user, *, page: str = "overview") -> list[dict]:
    return _PAGES[page].render_context(user)
