"""Routes of the orders API; scrm/api/urls.py calls register(router)."""

from loyalty.orders.api import views


def register(router) -> None:
    router.register("orders", views.OrderViewSet, basename="order")
