"""Screens: callbacks."""

urlpatterns: list = []
