"""Screens: handovers."""

urlpatterns: list = []
