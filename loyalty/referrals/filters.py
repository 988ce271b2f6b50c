"""FilterSets of referrals, shared by the dashboard lists and the API lists."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from loyalty.orders.models import OrderChannel
from loyalty.referrals.models import Commission, CommissionRule, CommissionStatus, Referral, ReferralCode
from scrm.filters import StoreFilter


class CommissionFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CommissionStatus.choices, label=_("Status"))
    referrer = django_filters.NumberFilter(field_name="referrer_id", label=_("Referrer (member id)"))
    store = StoreFilter(field_name="referrer__home_store", label=_("Referrer's store"))
    placed_after = django_filters.DateFilter(
        field_name="placed_at", lookup_expr="date__gte", label=_("Placed on or after")
    )
    placed_before = django_filters.DateFilter(
        field_name="placed_at", lookup_expr="date__lte", label=_("Placed on or before")
    )

    class Meta:
        model = Commission
        fields = ["status", "referrer", "store", "placed_after", "placed_before"]


class CommissionRuleFilterSet(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter(label=_("Active"))
    channel = django_filters.ChoiceFilter(choices=OrderChannel.choices, label=_("Channel"))

    class Meta:
        model = CommissionRule
        fields = ["is_active", "channel"]


class ReferralCodeFilterSet(django_filters.FilterSet):
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member"))
    code = django_filters.CharFilter(method="by_code", label=_("Code"))

    class Meta:
        model = ReferralCode
        fields = ["member", "code"]

    def by_code(self, queryset, name, value):
        return queryset.filter(code=value.strip().upper())


class ReferralFilterSet(django_filters.FilterSet):
    member = django_filters.NumberFilter(field_name="member_id", label=_("Referred member"))
    referrer = django_filters.NumberFilter(field_name="referrer_id", label=_("Referrer"))

    class Meta:
        model = Referral
        fields = ["member", "referrer"]
