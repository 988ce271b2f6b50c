"""FilterSets of the KOC programme's creators, applications, accounts, posts, snapshots, topics and
participations: the same for the screens and the API lists."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from koc.models import (
    Account,
    Application,
    ApplicationState,
    Creator,
    CreatorStatus,
    MetricSnapshot,
    Participation,
    Platform,
    Post,
    Topic,
    TopicStatus,
)
from scrm.filters import StoreFilter

# How a posts list may be ordered (newest first by default); the API's `ordering` parameter.
POST_ORDERINGS = ("published_at", "interactions", "media_value")


class CreatorFilterSet(django_filters.FilterSet):
    level = django_filters.NumberFilter(field_name="level_id", label=_("Level"))
    status = django_filters.ChoiceFilter(choices=CreatorStatus.choices, label=_("Status"))
    store = StoreFilter(field_name="member__home_store", label=_("Store"))
    mentor = django_filters.NumberFilter(field_name="mentor_id", label=_("Mentor"))

    class Meta:
        model = Creator
        fields = ["level", "status", "store", "mentor"]


class ApplicationFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=ApplicationState.choices, label=_("State"))
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member"))
    store = StoreFilter(field_name="member__home_store", label=_("Store"))

    class Meta:
        model = Application
        fields = ["state", "member", "store"]


class AccountFilterSet(django_filters.FilterSet):
    platform = django_filters.ChoiceFilter(choices=Platform.choices, label=_("Platform"))

    class Meta:
        model = Account
        fields = ["platform"]


class PostFilterSet(django_filters.FilterSet):
    creator = django_filters.NumberFilter(field_name="creator_id", label=_("Creator"))
    platform = django_filters.ChoiceFilter(choices=Platform.choices, label=_("Platform"))
    topic = django_filters.NumberFilter(field_name="topic_id", label=_("Topic"))
    viral = django_filters.BooleanFilter(label=_("Viral"))
    store = StoreFilter(field_name="creator__member__home_store", label=_("Store"))
    published_after = django_filters.IsoDateTimeFilter(field_name="published_at", lookup_expr="gte",
                                                       label=_("Published from"))
    published_before = django_filters.IsoDateTimeFilter(field_name="published_at", lookup_expr="lt",
                                                        label=_("Published before"))

    class Meta:
        model = Post
        fields = ["creator", "platform", "topic", "viral", "store", "published_after", "published_before"]


class SnapshotFilterSet(django_filters.FilterSet):
    taken_after = django_filters.IsoDateTimeFilter(field_name="taken_at", lookup_expr="gte", label=_("Taken from"))
    taken_before = django_filters.IsoDateTimeFilter(field_name="taken_at", lookup_expr="lt", label=_("Taken before"))

    class Meta:
        model = MetricSnapshot
        fields = ["taken_after", "taken_before"]


class TopicFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=TopicStatus.choices, label=_("Status"))
    platform = django_filters.ChoiceFilter(choices=Platform.choices, method="on_platform", label=_("Platform"))

    class Meta:
        model = Topic
        fields = ["status", "platform"]

    def on_platform(self, queryset, name, value):
        """Topics open to posts on `value`: those listing it, and those listing no platform (any)."""
        return queryset.filter(platforms__contains=[value]) | queryset.filter(platforms=[])


class ParticipationFilterSet(django_filters.FilterSet):
    creator = django_filters.NumberFilter(field_name="creator_id", label=_("Creator"))
    rewarded = django_filters.BooleanFilter(field_name="rewarded_at", lookup_expr="isnull", exclude=True,
                                            label=_("Rewarded"))

    class Meta:
        model = Participation
        fields = ["creator", "rewarded"]
