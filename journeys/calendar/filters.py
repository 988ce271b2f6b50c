"""The FilterSet of planned posts: the same for the dashboard list and the API list."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from journeys.calendar.models import PlannedPost, PostKind, PostState
from scrm.filters import StoreFilter


class PostFilterSet(django_filters.FilterSet):
    store = StoreFilter(field_name="store", label=_("Store"))
    brand_wide = django_filters.BooleanFilter(field_name="store", lookup_expr="isnull", label=_("Brand-wide"))
    state = django_filters.ChoiceFilter(choices=PostState.choices, label=_("State"))
    kind = django_filters.ChoiceFilter(choices=PostKind.choices, label=_("Kind"))
    publish_after = django_filters.IsoDateTimeFilter(field_name="publish_at", lookup_expr="gte",
                                                     label=_("Publish from"))
    publish_before = django_filters.IsoDateTimeFilter(field_name="publish_at", lookup_expr="lt",
                                                      label=_("Publish before"))

    class Meta:
        model = PlannedPost
        fields = ["store", "brand_wide", "state", "kind", "publish_after", "publish_before"]
