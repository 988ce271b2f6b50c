"""Routes of the WeCom connector's API (under /api/v1/wecom/); scrm/api/urls.py calls register(router)."""


def register(router) -> None:
    pass
