"""The webhooks screens."""

urlpatterns: list = []
