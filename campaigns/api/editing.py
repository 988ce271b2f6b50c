"""API bodies and routes of a campaign's recurrence, its edits (PATCH on a draft or an approved
campaign) and its test sends to staff (/api/v1/campaigns/{campaign_id}/test-sends/)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from campaigns.api.policy import LocalTimeField
from campaigns.models import Campaign, Repeat, StaffTestSend
from campaigns.services import recurrence
from campaigns.services import test_sends as service
from scrm.api import fields as strict
from scrm.api.idempotency import idempotent
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS, path_id
from scrm.api.viewsets import NestedScopedMixin, ScopedQuerysetMixin

CAMPAIGN_ID = path_id("campaign_id", "Campaign id.")


class StrictBody(serializers.Serializer):
    """A body whose unknown fields are a 400 naming each (a misspelt field is never silently ignored)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            known = set(self.fields)
            unknown = [key for key in data if key not in known]
            if unknown:
                raise serializers.ValidationError({key: [_("Unknown field; known: %(known)s.") % {
                    "known": ", ".join(self.fields)}] for key in unknown})
        return super().to_internal_value(data)


class RecurrenceSerializer(StrictBody):
    frequency = strict.ChoiceField(choices=Repeat.choices, help_text="daily, weekly or monthly.")
    weekdays = serializers.ListField(
        child=strict.IntegerField(min_value=0, max_value=6), required=False, default=list, max_length=7,
        help_text="Weekly: the weekdays, 0 Monday to 6 Sunday.")
    day = strict.IntegerField(min_value=1, max_value=31, required=False, allow_null=True, default=None,
                              help_text="Monthly: the day of the month; a shorter month sends on its last day.")
    time = LocalTimeField(help_text="The time of day, HH:MM, in the brand's time zone.")
    start = serializers.DateField(required=False, default=None, allow_null=True,
                                  help_text="The first day (default: today).")
    until = serializers.DateField(required=False, allow_null=True, default=None,
                                  help_text="The last day it may run on; empty: no end date.")
    count = strict.IntegerField(min_value=1, max_value=10_000, required=False, allow_null=True, default=None,
                                help_text="At most this many runs; empty: no limit.")



def recurrence_of(campaign: Campaign) -> dict | None:
    """A campaign's rule as the API writes it (None for a one-off campaign or a run)."""
    if not campaign.repeat:
        return None
    return {
        "frequency": campaign.repeat, "weekdays": sorted(campaign.repeat_weekdays or []), "day": campaign.repeat_day,
        "time": campaign.repeat_time.strftime("%H:%M") if campaign.repeat_time else None,
        "start": campaign.repeat_start.isoformat() if campaign.repeat_start else None,
        "until": campaign.repeat_until.isoformat() if campaign.repeat_until else None,
        "count": campaign.repeat_count,
    }


def rule_of(data: dict | None) -> recurrence.Rule | None:
    """The service's rule from a validated recurrence body (None: no recurrence)."""
    if data is None:
        return None
    # A PATCH reads its body as partial, nested bodies too: nothing is filled in, so a part left out is
    # missing here and the service names it.
    return recurrence.Rule(frequency=data.get("frequency", ""), time=data.get("time"),
                           start=data.get("start") or recurrence.today(),
                           weekdays=tuple(sorted(set(data.get("weekdays") or ()))), day=data.get("day"),
                           until=data.get("until"), count=data.get("count"))


class CampaignPatchSerializer(StrictBody):
    name = strict.CharField(max_length=100, required=False)
    segment = strict.IntegerField(min_value=1, required=False, help_text="The segment's id.")
    channel = strict.CharField(max_length=24, required=False, help_text="A channel code.")
    content = strict.CharField(max_length=20_000, required=False, help_text="The text, with its personal fields.")
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True,
                                             help_text="When to send once approved; null: when sent.")
    holdout_share = strict.DecimalField(max_digits=3, decimal_places=2, required=False, min_value=Decimal(0),
                                        max_value=Decimal("0.5"),
                                        help_text="Share kept out at random, 0 to 0.5.")
    recurrence = RecurrenceSerializer(required=False, allow_null=True,
                                      help_text="The series' rule; null makes it a one-off campaign.")
    attachments = serializers.ListField(child=serializers.DictField(), required=False,
                                        help_text="The attachments in their new order (replacing them all; [] "
                                                  "removes them); as in a new campaign.")


def changes_of(data: dict) -> dict:
    """The service's changes (campaigns.services.campaigns.update_campaign) from a validated PATCH body."""
    changes = {k: v for k, v in data.items() if k not in ("segment", "recurrence")}
    if "segment" in data:
        changes["segment_id"] = data["segment"]
    if "recurrence" in data:
        changes["recurrence"] = rule_of(data["recurrence"])
    return changes


class StaffTestSendSerializer(serializers.ModelSerializer):
    recipient = serializers.SlugRelatedField(slug_field="username", read_only=True)
    sent_by = serializers.SerializerMethodField(help_text="The staff member's username, or the API key's name.")
    links_opened = serializers.SerializerMethodField(
        help_text="How often the test's links were followed: its own test links, never counted as the campaign's "
                  "clicks.")

    class Meta:
        model = StaffTestSend
        fields = ["id", "campaign", "recipient", "recipient_label", "sample_member", "sent_by", "channel", "address",
                  "text", "outcome", "error", "provider_message_id", "created_at", "links_opened"]
        read_only_fields = fields

    def get_sent_by(self, obj) -> str:
        return obj.sent_by.username if obj.sent_by else obj.sent_by_label

    def get_links_opened(self, obj) -> int:
        return getattr(obj, "links_opened", 0) or 0


class TestSendInputSerializer(StrictBody):
    recipients = serializers.ListField(
        child=strict.IntegerField(min_value=1), min_length=1, max_length=service.MAX_RECIPIENTS,
        help_text=f"Staff account ids (1 to {service.MAX_RECIPIENTS}) in your reach.")
    sample_member = strict.IntegerField(
        min_value=1, required=False, allow_null=True, default=None,
        help_text="A member in your reach whose personal fields fill the text; empty: placeholder values.")


CREATED = inline_serializer("TestSendsCreated", fields={
    "results": StaffTestSendSerializer(many=True),
    "left_today": serializers.IntegerField(help_text="Test sends this campaign may still make today."),
})


@extend_schema_view(
    list=extend_schema(summary="A campaign's test sends to staff, newest first", parameters=[CAMPAIGN_ID]),
    create=extend_schema(
        summary=f"Send the campaign's message to staff members to look at (at most {service.DAILY_LIMIT} a day per "
                "campaign): no delivery, no cap, no result", parameters=[CAMPAIGN_ID],
        request=TestSendInputSerializer, responses={201: CREATED, **ERRORS}),
)
class CampaignTestSendViewSet(NestedScopedMixin, ScopedQuerysetMixin, mixins.ListModelMixin,
                              viewsets.GenericViewSet):
    scope_resource = "campaigns"
    parser_classes = [JSONParser]
    queryset = service.with_openings(StaffTestSend.objects.select_related("recipient", "sent_by"))
    serializer_class = StaffTestSendSerializer
    pagination_class = cursor_ordered_by("-id")
    filterset_class = None
    parent_queryset = Campaign.objects.all()
    parent_kwarg = "campaign_id"
    parent_field = "campaign"
    parent_attr = "campaign"

    @idempotent
    def create(self, request, *args, **kwargs):
        body = TestSendInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rows = service.send_test(campaign=self.campaign, actor=request.user,
                                 recipient_ids=body.validated_data["recipients"],
                                 sample_member_id=body.validated_data["sample_member"])
        left = max(service.DAILY_LIMIT - service.sent_today(self.campaign, dt.datetime.now(dt.UTC)), 0)
        return Response({"results": StaffTestSendSerializer(rows, many=True).data, "left_today": left},
                        status=status.HTTP_201_CREATED)
