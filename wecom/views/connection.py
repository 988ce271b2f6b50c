"""Screens: connection."""

urlpatterns: list = []
