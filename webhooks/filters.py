"""FilterSets of subscriptions and their deliveries: the same for the screens and the API lists."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from scrm.filters import StoreFilter
from webhooks.models import Delivery, DeliveryState, Subscription, SubscriptionState


def _type_choices():
    from webhooks.services.subscriptions import subscribable_types

    return [(code, code) for code in subscribable_types()]


class SubscriptionFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=SubscriptionState.choices, label=_("State"))
    event_type = django_filters.ChoiceFilter(choices=_type_choices, method="hears", label=_("Event type"))
    store = StoreFilter(field_name="store", label=_("Store"))
    api_key = django_filters.NumberFilter(field_name="api_key_id", label=_("Integration"))

    class Meta:
        model = Subscription
        fields = ["state", "event_type", "store", "api_key"]

    def hears(self, queryset, name, value: str):
        return queryset.filter(event_types__contains=[value])


class DeliveryFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=DeliveryState.choices, label=_("State"))
    event_type = django_filters.CharFilter(field_name="event__type", label=_("Event type"), max_length=64)
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label=_("Since"),
                                             help_text=_("Deliveries queued at or after this time (ISO 8601)."))

    class Meta:
        model = Delivery
        fields = ["state", "event_type", "since"]
