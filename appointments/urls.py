"""Appointments' screens (included at the site root)."""

urlpatterns: list = []
