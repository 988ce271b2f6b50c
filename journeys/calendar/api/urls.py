"""Routes of the content calendar API (/api/v1/calendar/posts/); scrm/api/urls.py calls register(router)."""

from journeys.calendar.api import views


def register(router) -> None:
    router.register("calendar/posts", views.PostViewSet, basename="calendar-post")
