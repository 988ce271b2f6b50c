"""API: channels (under /api/v1/wecom/)."""


def register(router) -> None:
    pass
