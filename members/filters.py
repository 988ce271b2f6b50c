"""FilterSets of the member centre: members (shared by the dashboard list, the staff phone view and
the API), identities and tags."""

from __future__ import annotations

import contextlib
import re

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _

from members.models import Channel, Gender, Identity, Member, Source, Stage, Tag
from members.phones import InvalidPhone, normalize_phone
from members.sql import IDENTITY
from scrm.filters import StoreFilter
from scrm.models import User

_PHONE_SEPARATORS = re.compile(r"[\s\-().+/]")


# The members holding an identity with this external id on any channel: the (channel, namespace)
# pairs in use are walked with a loose index scan of identity_unique (a handful of index probes, not
# a scan of the table), then each pair is probed for the id.
_HOLDERS_OF_EXTERNAL_ID = f"""
    WITH RECURSIVE pairs(channel, namespace) AS (
        (SELECT channel, namespace FROM {IDENTITY} ORDER BY channel, namespace LIMIT 1)
        UNION ALL
        SELECT next.channel, next.namespace FROM pairs, LATERAL (
            SELECT i.channel, i.namespace FROM {IDENTITY} i
            WHERE (i.channel, i.namespace) > (pairs.channel, pairs.namespace)
            ORDER BY i.channel, i.namespace LIMIT 1
        ) next
    )
    SELECT i.member_id FROM pairs
    JOIN {IDENTITY} i ON i.channel = pairs.channel AND i.namespace = pairs.namespace AND i.external_id = %s"""


class MemberFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label=_("Name, phone or identity"),
        help_text=_(
            "A name (part of it), a phone in any common form or its last digits (the profile's phone or "
            "any phone identity), or the exact id of any identity (a WeCom external userid, a unionid, a "
            "Tmall nick...)."
        ),
    )
    store = StoreFilter(field_name="home_store")
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
                phone = normalize_phone(value)
            except InvalidPhone:  # last digits, as clerks ask for them
                return queryset.filter(Q(phone__endswith=digits) | Q(Exists(Identity.objects.filter(
                    member=OuterRef("pk"), channel=Channel.PHONE, namespace="", external_id__endswith=digits))))
            # A second phone is a phone identity only; the unique index finds it.
            return queryset.filter(Q(phone=phone) | Q(pk__in=Identity.objects.filter(
                channel=Channel.PHONE, namespace="", external_id=phone).values("member_id")))
        found = Q(name__icontains=value)
        if len(value) <= Identity._meta.get_field("external_id").max_length:
            found |= Q(pk__in=RawSQL(_HOLDERS_OF_EXTERNAL_ID, [value]))  # noqa: S611 - constant SQL, bound value
        return queryset.filter(found)


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
