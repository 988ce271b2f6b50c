"""FilterSets of services and bookings: the same for the screens and the API lists."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from appointments.models import Booking, BookingSource, BookingState, Service, VisitPlace
from scrm.filters import StoreFilter


class ServiceFilterSet(django_filters.FilterSet):
    store = StoreFilter(field_name="store", label=_("Store"))
    place = django_filters.ChoiceFilter(choices=VisitPlace.choices, label=_("Where"))
    is_active = django_filters.BooleanFilter(label=_("Bookable"))

    class Meta:
        model = Service
        fields = ["store", "place", "is_active"]


class BookingFilterSet(django_filters.FilterSet):
    store = StoreFilter(field_name="store", label=_("Store"))
    state = django_filters.ChoiceFilter(choices=BookingState.choices, label=_("State"))
    source = django_filters.ChoiceFilter(choices=BookingSource.choices, label=_("Source"))
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member"))
    staff = django_filters.NumberFilter(field_name="staff_id", label=_("Staff member"))
    service = django_filters.NumberFilter(field_name="service_id", label=_("Service"))
    starts_after = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte", label=_("Starts from"))
    starts_before = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt", label=_("Starts before"))

    class Meta:
        model = Booking
        fields = ["store", "state", "source", "member", "staff", "service", "starts_after", "starts_before"]
