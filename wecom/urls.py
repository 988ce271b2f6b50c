"""Screens of the WeCom connector (flat names, included at the site root)."""

urlpatterns: list = []
