"""Routes of the tiers API; scrm/api/urls.py calls register(router)."""


def register(router) -> None:
    pass
