"""Panels on the member 360 page that other apps contribute (orders, tiers, communities, KOC),
so the member centre shows them without importing those apps.

    from members import panels
    panels.register("orders", template="orders/_member_panel.html", context=lambda member, user: {...}, order=20)
"""

from __future__ import annotations

from scrm.sections import SectionRegistry

_PANELS = SectionRegistry()
register = _PANELS.register


def for_member(member, user) -> list[dict]:
    return _PANELS.render_context(member, user)
