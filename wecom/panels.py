"""The WeCom panel of the member 360 page: the member's follows (which staff member, added when and
how, the channel state, the staff's remark), shown only when the member is a WeCom contact."""

from __future__ import annotations


def register() -> None:
    from members import panels
    from wecom import queries

    panels.register("wecom", template="wecom/_member_panel.html", context=queries.member_panel, order=25)
