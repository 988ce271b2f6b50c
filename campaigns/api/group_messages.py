"""API: a `wecom_group` campaign's group deliveries, one per customer group (state, reason, the
owner's WeCom task), read-only, under /api/v1/campaigns/{campaign_id}/group-deliveries/, and their
counts by state (/counts/). Store managers see their store's groups' rows."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns.models import Campaign, GroupDelivery, GroupDeliveryState
from campaigns.services import group_messages
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import path_id
from scrm.api.viewsets import NestedScopedMixin, ScopedQuerysetMixin

CAMPAIGN_ID = path_id("campaign_id", "Campaign id.")


class GroupDeliveryFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=GroupDeliveryState.choices, label=_("State"))
    sender = django_filters.CharFilter(label=_("Owner (WeCom userid)"))

    class Meta:
        model = GroupDelivery
        fields = ["state", "sender"]


class GroupDeliverySerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="group.name", read_only=True)
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = GroupDelivery
        fields = ["id", "campaign", "group", "group_name", "chat_id", "sender", "store", "state", "reason", "task",
                  "msgid", "error", "created_at", "updated_at", "sent_at"]
        read_only_fields = fields


COUNTS = inline_serializer("GroupDeliveryCounts", {
    **{state: serializers.IntegerField() for state in GroupDeliveryState.values},
    "total": serializers.IntegerField(),
})


@extend_schema_view(
    list=extend_schema(summary="A group campaign's deliveries, one per customer group (filter by state, owner)",
                       parameters=[CAMPAIGN_ID]),
    retrieve=extend_schema(summary="One group delivery", parameters=[CAMPAIGN_ID]),
    counts=extend_schema(summary="A group campaign's deliveries counted by state", parameters=[CAMPAIGN_ID],
                         responses={200: COUNTS}),
)
class CampaignGroupDeliveryViewSet(NestedScopedMixin, ScopedQuerysetMixin, mixins.ListModelMixin,
                                   mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    scope_resource = "campaigns"
    parser_classes = [JSONParser]
    queryset = GroupDelivery.objects.select_related("group", "store").order_by("id")
    serializer_class = GroupDeliverySerializer
    filterset_class = GroupDeliveryFilterSet
    pagination_class = cursor_ordered_by("id")
    parent_queryset = Campaign.objects.all()
    parent_kwarg = "campaign_id"
    parent_field = "campaign"
    parent_attr = "campaign"

    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def counts(self, request, campaign_id=None):
        return Response(group_messages.counts(self.campaign, request.user))
