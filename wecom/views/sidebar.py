"""Screens: sidebar."""

urlpatterns: list = []
