"""Routes of the orders API; scrm/api/urls.py calls register(router)."""

from orders.api import views


def register(router) -> None:
    router.register("orders", views.OrderViewSet, basename="order")
