"""API: events (under /api/v1/wecom/)."""


def register(router) -> None:
    pass
