"""Routes of the staff tasks API (/api/v1/tasks/) and the journeys API (/api/v1/journeys/);
scrm/api/urls.py calls register(router)."""

from journeys.api import journey_views, views


def register(router) -> None:
    router.register("tasks", views.TaskViewSet, basename="task")
    router.register("journeys", journey_views.JourneyViewSet, basename="journey")
