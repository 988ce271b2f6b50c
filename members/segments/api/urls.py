"""Routes of the segments API; scrm/api/urls.py calls register(router)."""

from members.segments.api.views import SegmentViewSet


def register(router) -> None:
    router.register("segments", SegmentViewSet, basename="segment")
