"""Dashboard and phone routes of the KOC programme."""

urlpatterns: list = []
