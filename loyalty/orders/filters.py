"""One FilterSet for orders, shared by the dashboard list and the API list."""

from __future__ import annotations

import re

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty.orders.models import Order, OrderChannel, OrderStatus
from members.models import Member
from members.phones import InvalidPhone, normalize_phone
from scrm.filters import StoreFilter

_PHONE = re.compile(r"^[\d\s\-().+]{7,}$")


class OrderFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Order number or member phone"))
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member"))
    store = StoreFilter()
    channel = django_filters.ChoiceFilter(choices=OrderChannel.choices, label=_("Channel"))
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices, label=_("Status"))
    staff = django_filters.NumberFilter(field_name="staff_id", label=_("Credited guide"))
    placed_after = django_filters.IsoDateTimeFilter(
        field_name="placed_at", lookup_expr="gte", label=_("Placed at or after")
    )
    placed_before = django_filters.IsoDateTimeFilter(field_name="placed_at", lookup_expr="lt", label=_("Placed before"))
    pending = django_filters.BooleanFilter(field_name="member", lookup_expr="isnull", label=_("Buyer not yet a member"))

    class Meta:
        model = Order
        fields = ["q", "member", "store", "channel", "status", "staff", "placed_after", "placed_before", "pending"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if _PHONE.match(value) and sum(ch.isdigit() for ch in value) >= 11:
            try:
                phone = normalize_phone(value)
            except InvalidPhone:
                phone = None
            if phone:
                # Three index probes OR-ed together: the member's orders, a pending buyer's, the number.
                member_ids = list(Member.objects.filter(phone=phone).values_list("id", flat=True)[:50])
                return queryset.filter(
                    Q(member_id__in=member_ids)
                    | Q(member__isnull=True, buyer_channel="phone", buyer_namespace="", buyer_external_id=phone)
                    | Q(external_id=value)
                )
        return queryset.filter(external_id=value)
