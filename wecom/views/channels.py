"""Screens: channels."""

urlpatterns: list = []
