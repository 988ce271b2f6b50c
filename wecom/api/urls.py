"""Routes of the WeCom connector's API (under /api/v1/wecom/); scrm/api/urls.py calls register(router).
Each part registers its own routes from its module here."""

from wecom.api import channels, connection, events, groups, handovers, sync


def register(router) -> None:
    for part in (connection, sync, events, channels, handovers, groups):
        part.register(router)
