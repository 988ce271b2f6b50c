"""FilterSets of campaigns, deliveries and outbox messages, for the API lists (and the screens later)."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryReason,
    DeliveryState,
    OutboxMessage,
    Purpose,
)
from campaigns.queries import KIND_Q, Kind
from scrm.filters import StoreFilter


class CampaignFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CampaignStatus.choices, label=_("Status"))
    store = StoreFilter(field_name="store", label=_("Store"))
    kind = django_filters.ChoiceFilter(
        choices=Kind.choices, method="filter_kind", label=_("Kind"),
        empty_label=_("Mass messages and series"),
        help_text=_("mass (one-off), series, run (a series' run), journey (a journey's send step), notice (a "
                    "service notice: event and booking reminders) or all. The API lists every kind when it is "
                    "left out; the dashboard leaves notices and journey sends out."))
    purpose = django_filters.ChoiceFilter(choices=Purpose.choices, label=_("Purpose"),
                                          help_text=_("marketing, or transactional (service notices)."))
    parent = django_filters.NumberFilter(field_name="parent_id", label=_("Series"), widget=forms.HiddenInput,
                                         help_text=_("A recurring campaign's id: its runs."))

    class Meta:
        model = Campaign
        fields = ["status", "store", "kind", "purpose", "parent"]

    def filter_kind(self, queryset, name, value):
        return queryset.filter(KIND_Q[value]) if value else queryset


class DeliveryFilterSet(django_filters.FilterSet):
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member"))
    state = django_filters.ChoiceFilter(choices=DeliveryState.choices, label=_("State"))
    reason = django_filters.ChoiceFilter(choices=DeliveryReason.choices, label=_("Reason"))

    class Meta:
        model = Delivery
        fields = ["member", "state", "reason"]


class OutboxFilterSet(django_filters.FilterSet):
    campaign = django_filters.NumberFilter(field_name="campaign_id", label=_("Campaign"))
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member"))

    class Meta:
        model = OutboxMessage
        fields = ["campaign", "member"]
