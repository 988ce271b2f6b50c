"""FilterSets of the WeCom connector's lists, shared by the dashboard and the API."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from scrm.filters import StoreFilter
from wecom.models import (
    CustomerGroup,
    CustomerGroupMember,
    GroupMemberKind,
    GroupStatus,
    RunStatus,
    SyncFailure,
    SyncKind,
    SyncRun,
    WecomStaff,
)


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


class CustomerGroupFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name"))
    store = StoreFilter(field_name="store", label=_("Store"))
    owner = django_filters.CharFilter(field_name="owner_userid", label=_("Owner (WeCom userid)"))
    status = django_filters.ChoiceFilter(choices=GroupStatus.choices, label=_("Status"))
    dismissed = django_filters.BooleanFilter(field_name="dismissed_at", lookup_expr="isnull", exclude=True,
                                             label=_("Dismissed"))

    class Meta:
        model = CustomerGroup
        fields = ["q", "store", "owner", "status", "dismissed"]


class CustomerGroupMemberFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=GroupMemberKind.choices, label=_("Kind"))
    present = django_filters.BooleanFilter(field_name="left_at", lookup_expr="isnull", label=_("Still in the group"))

    class Meta:
        model = CustomerGroupMember
        fields = ["kind", "present"]
