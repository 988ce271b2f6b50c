"""Screens of this app."""

urlpatterns: list = []
