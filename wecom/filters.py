"""FilterSets of the WeCom connector's lists, shared by the dashboard and the API."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from wecom.models import RunStatus, SyncFailure, SyncKind, SyncRun, WecomStaff


class SyncRunFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=SyncKind.choices, label=_("Kind"))
    status = django_filters.ChoiceFilter(choices=RunStatus.choices, label=_("Status"))

    class Meta:
        model = SyncRun
        fields = ["kind", "status"]


class SyncFailureFilterSet(django_filters.FilterSet):
    reason = django_filters.CharFilter(label=_("Reason code"))

    class Meta:
        model = SyncFailure
        fields = ["reason"]


class WecomStaffFilterSet(django_filters.FilterSet):
    linked = django_filters.BooleanFilter(field_name="user", lookup_expr="isnull", exclude=True, label=_("Linked"))
    follow_enabled = django_filters.BooleanFilter(label=_("Customer contact enabled"))

    class Meta:
        model = WecomStaff
        fields = ["linked", "follow_enabled"]
