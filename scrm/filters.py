"""FilterSets for the organisation, shared by the dashboard lists and the API lists."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from scrm.models import ApiKey, Region, Role, Store, User


class StoreFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    region = django_filters.ModelChoiceFilter(queryset=Region.objects.all(), label=_("Region"))
    city = django_filters.CharFilter(label=_("City"))
    is_active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        model = Store
        fields = ["q", "region", "city", "is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(code__icontains=value) | Q(city__icontains=value))


class StaffFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    role = django_filters.ChoiceFilter(choices=Role.choices, label=_("Role"))
    store = django_filters.ModelChoiceFilter(queryset=Store.objects.all(), label=_("Store"))
    is_active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        model = User
        fields = ["q", "role", "store", "is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(username__icontains=value) | Q(display_name__icontains=value) | Q(email__icontains=value)
        )


class ApiKeyFilterSet(django_filters.FilterSet):
    active = django_filters.BooleanFilter(method="filter_active", label=_("Active"))

    class Meta:
        model = ApiKey
        fields = ["active", "store"]

    def filter_active(self, queryset, name, value):
        from django.utils import timezone

        now = timezone.now()
        active = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        return queryset.filter(active) if value else queryset.exclude(active)
