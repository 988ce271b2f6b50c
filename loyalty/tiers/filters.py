"""FilterSets of tiers: member tiers and tier changes (shared by the screens and the API)."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from loyalty.tiers.models import ChangeReason, MemberTier, TierChange, TierLevel
from scrm.filters import StoreFilter


class MemberTierFilterSet(django_filters.FilterSet):
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member id"))
    level = django_filters.ModelChoiceFilter(queryset=TierLevel.objects.all(), label=_("Level"))
    store = StoreFilter(field_name="member__home_store")
    downgrade_due = django_filters.BooleanFilter(
        field_name="downgrade_due", lookup_expr="isnull", exclude=True, label=_("Held up by the downgrade policy")
    )

    class Meta:
        model = MemberTier
        fields = ["member", "level", "store", "downgrade_due"]


class TierChangeFilterSet(django_filters.FilterSet):
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member id"))
    reason = django_filters.ChoiceFilter(choices=ChangeReason.choices, label=_("Reason"))
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label=_("At or after"))

    class Meta:
        model = TierChange
        fields = ["member", "reason", "since"]
