"""The KOC programme's panel on the member 360 page (desktop and phone): the creator's level, their
posts in the window and what the next level needs; a pending application; or, for staff who may,
"propose as creator"."""

from __future__ import annotations


def register() -> None:
    from koc import queries
    from members import panels

    panels.register("koc", template="koc/_member_panel.html", context=queries.member_panel, order=30)
    from scrm import overview

    overview.register("koc_post", template="koc/_today.html", context=queries.today_section, order=60, page="today")
