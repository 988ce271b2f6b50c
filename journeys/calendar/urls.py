"""The content calendar's screens (included at the site root)."""

urlpatterns: list = []
