"""FilterSets of communities, events, sign-ups and check-ins: the same for the screens and the API lists."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from communities.models import (
    CheckIn,
    CheckInSource,
    Community,
    CommunityKind,
    CommunityMembership,
    CommunityStatus,
    Event,
    EventStatus,
    SignUp,
    SignUpState,
)
from scrm.filters import StoreFilter


class CommunityFilterSet(django_filters.FilterSet):
    store = StoreFilter(field_name="store", label=_("Store"))
    kind = django_filters.ChoiceFilter(choices=CommunityKind.choices, label=_("Kind"))
    status = django_filters.ChoiceFilter(choices=CommunityStatus.choices, label=_("Status"))
    owner = django_filters.NumberFilter(field_name="owner_id", label=_("Owner"))

    class Meta:
        model = Community
        fields = ["store", "kind", "status", "owner"]


class MembershipFilterSet(django_filters.FilterSet):
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member"))
    current = django_filters.BooleanFilter(field_name="left_at", lookup_expr="isnull", label=_("Current members"))

    class Meta:
        model = CommunityMembership
        fields = ["member", "current"]


class EventFilterSet(django_filters.FilterSet):
    store = StoreFilter(field_name="store", label=_("Store"))
    community = django_filters.NumberFilter(field_name="community_id", label=_("Community"))
    status = django_filters.ChoiceFilter(choices=EventStatus.choices, label=_("Status"))
    starts_after = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte", label=_("Starts from"))
    starts_before = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt", label=_("Starts before"))

    class Meta:
        model = Event
        fields = ["store", "community", "status", "starts_after", "starts_before"]


class SignUpFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=SignUpState.choices, label=_("State"))
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member"))

    class Meta:
        model = SignUp
        fields = ["state", "member"]


class CheckInFilterSet(django_filters.FilterSet):
    source = django_filters.ChoiceFilter(choices=CheckInSource.choices, label=pgettext_lazy("check-in", "How"))
    walk_in = django_filters.BooleanFilter(field_name="walk_in", label=_("Walk-in"))

    class Meta:
        model = CheckIn
        fields = ["source", "walk_in"]
