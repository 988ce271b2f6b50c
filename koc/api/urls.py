"""Routes of the KOC API under /api/v1/koc/ (creators, applications, accounts, posts and their
metrics, topics; levels, benefits, tier runs, settings); scrm/api/urls.py calls register(router)."""

from koc.api import content, programme


def register(router) -> None:
    content.register(router)
    programme.register(router)
