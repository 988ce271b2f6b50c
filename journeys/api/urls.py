"""Routes of the staff tasks API (/api/v1/tasks/); scrm/api/urls.py calls register(router)."""

from journeys.api import views


def register(router) -> None:
    router.register("tasks", views.TaskViewSet, basename="task")
