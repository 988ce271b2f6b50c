"""FilterSets of handovers, shared by the dashboard list and the API list."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from scrm.filters import StoreFilter
from wecom.models import Handover, HandoverItem, HandoverKind, HandoverStatus, ItemStatus


class HandoverFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=HandoverStatus.choices, label=_("Status"))
    kind = django_filters.ChoiceFilter(choices=HandoverKind.choices, label=_("Kind"))
    store = StoreFilter(field_name="store", label=_("Store"))

    class Meta:
        model = Handover
        fields = ["status", "kind", "store"]


class HandoverItemFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ItemStatus.choices, label=_("Status"))

    class Meta:
        model = HandoverItem
        fields = ["status"]
