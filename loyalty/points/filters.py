"""FilterSets of points, shared by the dashboard lists and the API lists."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.points.models import (
    EntryKind,
    LotSource,
    PointEntry,
    PointLot,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardKind,
)


class RewardFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    kind = django_filters.ChoiceFilter(choices=RewardKind.choices, label=_("Kind"))
    is_active = django_filters.BooleanFilter(label=_("Active"))
    available = django_filters.BooleanFilter(method="filter_available", label=_("Available now"))

    class Meta:
        model = Reward
        fields = ["q", "kind", "is_active", "available"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))

    def filter_available(self, queryset, name, value):
        now = timezone.now()
        available = (
            Q(is_active=True)
            & (Q(starts_at__isnull=True) | Q(starts_at__lte=now))
            & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))
            & (Q(stock__isnull=True) | Q(stock__gt=0))
        )
        return queryset.filter(available) if value else queryset.exclude(available)


class PointEntryFilterSet(django_filters.FilterSet):
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member id"))
    kind = django_filters.ChoiceFilter(choices=EntryKind.choices, label=_("Kind"))
    order = django_filters.NumberFilter(field_name="order_id", label=_("Order id"))
    redemption = django_filters.NumberFilter(field_name="redemption_id", label=_("Redemption id"))
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label=_("At or after"))
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt", label=_("Before"))

    class Meta:
        model = PointEntry
        fields = ["member", "kind", "order", "redemption", "created_after", "created_before"]


class PointLotFilterSet(django_filters.FilterSet):
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member id"))
    source = django_filters.ChoiceFilter(choices=LotSource.choices, label=_("Source"))
    open = django_filters.BooleanFilter(method="filter_open", label=_("Points left"))
    expires_before = django_filters.IsoDateTimeFilter(
        field_name="expires_at", lookup_expr="lt", label=_("Expires before")
    )

    class Meta:
        model = PointLot
        fields = ["member", "source", "open", "expires_before"]

    def filter_open(self, queryset, name, value):
        return queryset.filter(remaining__gt=0) if value else queryset.filter(remaining=0)


class RedemptionFilterSet(django_filters.FilterSet):
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member id"))
    reward = django_filters.NumberFilter(field_name="reward_id", label=_("Reward id"))
    status = django_filters.ChoiceFilter(choices=RedemptionStatus.choices, label=_("Status"))
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label=_("At or after"))

    class Meta:
        model = Redemption
        fields = ["member", "reward", "status", "created_after"]
