"""FilterSets of the member centre: members (shared by the dashboard list, the staff phone view and
the API), identities and tags."""

from __future__ import annotations

import contextlib
import re

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from members.models import Channel, Gender, Identity, Member, Source, Stage, Tag
from members.phones import InvalidPhone, normalize_phone
from scrm.models import Store, User

_PHONE_SEPARATORS = re.compile(r"[\s\-().+/]")


class MemberFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Name or phone"))
    store = django_filters.ModelChoiceFilter(field_name="home_store", queryset=Store.objects.all(), label=_("Store"))
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.all(), label=_("Owner"))
    stage = django_filters.ChoiceFilter(choices=Stage.choices, label=_("5A stage"))
    gender = django_filters.ChoiceFilter(choices=Gender.choices, label=_("Gender"))
    source = django_filters.ChoiceFilter(choices=Source.choices, label=_("Source"))
    joined_after = django_filters.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("Joined on or after")
    )
    tag = django_filters.ModelMultipleChoiceFilter(
        field_name="member_tags__tag", queryset=Tag.objects.all(), conjoined=True, label=_("Tags (all of)")
    )
    channel = django_filters.ChoiceFilter(choices=Channel.choices, method="on_channel", label=_("Reachable on"))
    updated_after = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label=_("Changed at or after")
    )

    class Meta:
        model = Member
        fields = ["q", "store", "owner", "stage", "gender", "source", "joined_after", "tag", "channel", "updated_after"]

    def on_channel(self, queryset, name, value):
        return queryset.filter(Exists(Identity.objects.filter(member=OuterRef("pk"), channel=value)))

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        digits = "".join(ch for ch in value if ch.isdigit())
        # Clerks type numbers as "138 0013 8000", "138-0013-8000" or "(+86) 138...": a value made of
        # digits and those separators is a phone number (or its last digits), anything else a name.
        if len(digits) >= 4 and _PHONE_SEPARATORS.sub("", value) == digits:
            try:
                return queryset.filter(phone=normalize_phone(value))
            except InvalidPhone:
                return queryset.filter(phone__endswith=digits)  # last digits, as clerks ask for them
        return queryset.filter(Q(name__icontains=value))


class IdentityFilterSet(django_filters.FilterSet):
    """Find the member behind an id a platform gave: ?channel=wecom&external_id=wm..."""

    channel = django_filters.ChoiceFilter(choices=Channel.choices, label=_("Channel"))
    namespace = django_filters.CharFilter(label=_("Namespace"))
    external_id = django_filters.CharFilter(method="by_external_id", label=_("External id"))
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member"))

    class Meta:
        model = Identity
        fields = ["channel", "namespace", "external_id", "member"]

    def by_external_id(self, queryset, name, value):
        if self.data.get("channel") == Channel.PHONE:
            with contextlib.suppress(InvalidPhone):  # a malformed phone simply finds nothing
                value = normalize_phone(value)  # phones are stored as E.164
        return queryset.filter(external_id=value)


class TagFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name"))
    group = django_filters.NumberFilter(field_name="group_id", label=_("Group"))
    is_rule = django_filters.BooleanFilter(field_name="rule", lookup_expr="isnull", exclude=True,
                                           label=_("Rule tag"))

    class Meta:
        model = Tag
        fields = ["q", "group", "is_rule"]
