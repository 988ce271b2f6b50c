"""Routes of the appointments API (/api/v1/appointments/...); scrm/api/urls.py calls register(router)."""

from appointments.api import views


def register(router) -> None:
    router.register("appointments/services", views.ServiceViewSet, basename="appointment-service")
    router.register("appointments/availability", views.AvailabilityViewSet, basename="appointment-availability")
    router.register("appointments/bookings", views.BookingViewSet, basename="appointment-booking")
