"""Routes of the referrals API; scrm/api/urls.py calls register(router)."""


def register(router) -> None:
    pass
