"""FilterSet of callback events, shared by the events page and the API list."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wecom.models import CallbackEvent, EventStatus


def _day_start(day) -> datetime:
    # A day of the brand's time zone, compared with received_at as is (its index serves).
    return timezone.make_aware(datetime.combine(day, time.min))


class CallbackEventFilterSet(django_filters.FilterSet):
    event = django_filters.CharFilter(label=_("Event"))
    change_type = django_filters.CharFilter(label=_("Change type"))
    status = django_filters.ChoiceFilter(choices=EventStatus.choices, label=_("Status"))
    received_from = django_filters.DateFilter(method="filter_from", label=_("Received from"),
                                              widget=forms.DateInput(attrs={"type": "date"}))
    received_to = django_filters.DateFilter(method="filter_to", label=_("Received until"),
                                            widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = CallbackEvent
        fields = ["event", "change_type", "status", "received_from", "received_to"]

    def filter_from(self, queryset, name, value):
        return queryset.filter(received_at__gte=_day_start(value))

    def filter_to(self, queryset, name, value):
        return queryset.filter(received_at__lt=_day_start(value + timedelta(days=1)))
