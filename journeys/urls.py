"""The journeys screens."""

urlpatterns: list = []
