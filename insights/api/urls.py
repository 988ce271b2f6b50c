"""Routes of the insights API; scrm/api/urls.py calls register(router)."""

from insights.api import views


def register(router) -> None:
    router.register("insights/figures", views.FiguresViewSet, basename="insights-figures")
    router.register("insights/cockpit", views.CockpitViewSet, basename="insights-cockpit")
