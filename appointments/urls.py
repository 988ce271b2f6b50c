"""Appointments' screens (included at the site root)."""

from django.urls import path

from appointments import views

urlpatterns = [
    path("book/<str:token>/", views.public_booking, name="appointments-public"),
    path("appointments/", views.CalendarView.as_view(), name="appointments-calendar"),
    path("appointments/services/", views.ServiceListView.as_view(), name="appointments-services"),
    path("appointments/services/new/", views.service_create, name="appointments-service-create"),
    path("appointments/services/<int:pk>/", views.service_edit, name="appointments-service-edit"),
    path("appointments/figures/", views.FiguresView.as_view(), name="appointments-figures"),
    path("appointments/members/<int:pk>/book/", views.guide_booking, name="appointments-guide-booking"),
    *[path(f"appointments/bookings/<int:pk>/{action}/", views.booking_action, {"action": action},
           name=f"appointments-booking-{action}") for action in views.BOOKING_ACTIONS],
    path("m/appointments/", views.MyDayView.as_view(), name="appointments-my-day"),
]
