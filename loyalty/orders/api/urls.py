"""Routes of the orders API; scrm/api/urls.py calls register(router)."""

from loyalty.orders.api import imports, views


def register(router) -> None:
    # Before orders/, whose detail route would otherwise read "imports" as an order id.
    router.register("orders/imports", imports.OrderImportJobViewSet, basename="order-import")
    router.register("orders", views.OrderViewSet, basename="order")
