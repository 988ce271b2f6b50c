"""Screens: sync."""

urlpatterns: list = []
