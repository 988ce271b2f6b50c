"""API: a campaign's WeCom mass-message tasks (one per staff member and send batch), read-only, and
reminding a task's staff member (at most 3 times in 24 hours: 409 beyond). Store managers see their
store's staff members' tasks, store staff their own."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns.models import Campaign, WecomMassTask
from campaigns.services import wecom_tasks
from scrm.api.idempotency import idempotent
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS, path_id
from scrm.api.viewsets import NestedScopedMixin, ScopedQuerysetMixin

CAMPAIGN_ID = path_id("campaign_id", "Campaign id.")


class WecomTaskSerializer(serializers.ModelSerializer):
    staff = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reminders_left = serializers.SerializerMethodField(help_text="Reminders still allowed in the last 24 hours.")

    class Meta:
        model = WecomMassTask
        fields = ["id", "campaign", "staff", "sender", "state", "msgid", "text", "customers", "refused",
                  "intended_at", "created_at", "confirmed_at", "reminded_at", "reminders_left", "last_polled_at",
                  "next_poll_at", "finished_at", "cancelled_at", "error"]
        read_only_fields = fields

    def get_reminders_left(self, obj) -> int:
        day_ago = timezone.now() - dt.timedelta(hours=24)
        return max(wecom_tasks.REMINDERS_PER_DAY - sum(1 for t in obj.reminded_at if t > day_ago), 0)


@extend_schema_view(
    list=extend_schema(summary="A campaign's WeCom mass-message tasks: one per staff member, waiting for their "
                               "confirmation in WeCom until sent", parameters=[CAMPAIGN_ID]),
    retrieve=extend_schema(summary="One WeCom mass-message task", parameters=[CAMPAIGN_ID]),
    remind=extend_schema(summary="Remind the task's staff member to send it (at most 3 times in 24 hours; 409 "
                                 "beyond, or when the task no longer waits)",
                         parameters=[CAMPAIGN_ID], request=None, responses={200: WecomTaskSerializer, **ERRORS}),
)
class CampaignWecomTaskViewSet(NestedScopedMixin, ScopedQuerysetMixin, mixins.ListModelMixin,
                               mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    scope_resource = "campaigns"
    parser_classes = [JSONParser]
    queryset = WecomMassTask.objects.select_related("staff").order_by("id")
    serializer_class = WecomTaskSerializer
    pagination_class = cursor_ordered_by("id")
    parent_queryset = Campaign.objects.all()
    parent_kwarg = "campaign_id"
    parent_field = "campaign"
    parent_attr = "campaign"

    def filter_queryset(self, queryset):
        return wecom_tasks.own_cut(super().filter_queryset(queryset), self.request.user)

    @action(detail=True, methods=["post"])
    @idempotent
    def remind(self, request, campaign_id=None, pk=None):
        task = wecom_tasks.remind(task=self.get_object(), actor=request.user)
        return Response(WecomTaskSerializer(task).data)
