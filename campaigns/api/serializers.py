"""Serializers of the campaigns API: what it answers, and the bodies it takes (strict fields)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns import channels, content, queries
from campaigns.api.editing import RecurrenceSerializer, recurrence_of
from campaigns.models import Campaign, CampaignImage, Delivery, OutboxMessage, Purpose
from scrm.api import fields as strict

ATTACHMENTS_HELP = (
    "At most 9, sent after the text in this order, each an object by `type`: "
    '{"type": "image", "image": <id from POST /campaign-images/>}; '
    '{"type": "link", "title", "url", "description" (optional), "picture_url" (optional)}; '
    '{"type": "miniprogram", "title", "appid", "page", "image": <cover image id>}. '
    "Each channel takes its own kinds: WeCom all three, email images and links, webhook and outbox all three, "
    "SMS none (a refused attachment is a 400 naming it). Links are tracked as the text's links."
)


class CampaignSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    attachments = serializers.ListField(child=serializers.DictField(), read_only=True, help_text=ATTACHMENTS_HELP)
    counts = serializers.SerializerMethodField(help_text="Deliveries by state, and their total.")
    recurrence = serializers.SerializerMethodField(help_text="A series' rule (its runs are campaigns with it as "
                                                             "parent); null for a one-off campaign or a run.")
    purpose = serializers.ChoiceField(
        choices=Purpose.choices, read_only=True,
        help_text="marketing, or transactional: a service notice (an event's or a booking's reminder) the system "
                  "made, not held to the frequency caps nor the marketing consent. Read-only.")
    expires_at = serializers.DateTimeField(
        read_only=True, help_text="A notice's point: what is not sent by then is suppressed as expired; null for none.")
    kind = serializers.SerializerMethodField(help_text="mass, series, run, journey or notice (the list's kind filter).")

    class Meta:
        model = Campaign
        fields = ["id", "name", "store", "segment", "snapshot", "channel", "content", "attachments", "status",
                  "scheduled_at",
                  "holdout_share", "send_month", "last_error", "created_at", "started_at", "finished_at", "counts",
                  "recurrence", "next_occurrence_at", "runs_created", "parent", "occurrence_at", "purpose",
                  "expires_at", "kind"]
        read_only_fields = fields

    def get_kind(self, obj) -> str:
        return queries.kind_of(obj)

    def get_counts(self, obj) -> dict[str, int]:
        return self.context["counts"][obj.pk]

    @extend_schema_field(RecurrenceSerializer(allow_null=True))
    def get_recurrence(self, obj):
        return recurrence_of(obj)


class CampaignDetailSerializer(CampaignSerializer):
    reasons = serializers.SerializerMethodField(help_text="Suppressed, deferred and failed deliveries by reason.")

    class Meta(CampaignSerializer.Meta):
        fields = [*CampaignSerializer.Meta.fields, "reasons"]
        read_only_fields = fields

    def get_reasons(self, obj) -> dict[str, int]:
        return self.context["reasons"]


class StoppedSerializer(serializers.Serializer):
    runs = serializers.IntegerField(help_text="A series' runs that were not finished (scheduled, sending, paused), "
                                              "cancelled with it; 0 for a one-off campaign.")
    deliveries = serializers.IntegerField(help_text="Member deliveries not sent yet, suppressed as cancelled (the "
                                                    "campaign's own and its runs'); sent ones stay sent.")
    group_deliveries = serializers.IntegerField(help_text="Customer-group deliveries not handed to WeCom yet, "
                                                          "cancelled.")


class CampaignCancelSerializer(CampaignDetailSerializer):
    stopped = serializers.SerializerMethodField(help_text="What this call stopped (0s for a retry that found it "
                                                          "cancelled already).")

    class Meta(CampaignDetailSerializer.Meta):
        fields = [*CampaignDetailSerializer.Meta.fields, "stopped"]
        read_only_fields = fields

    @extend_schema_field(StoppedSerializer)
    def get_stopped(self, obj) -> dict:
        return self.context["stopped"]


class CampaignInputSerializer(serializers.Serializer):
    name = strict.CharField(max_length=100)
    segment = strict.IntegerField(min_value=1, help_text="The segment's id; it is snapshotted when sending starts.")
    channel = strict.CharField(max_length=24, help_text="A channel code: " + ", ".join(channels.codes() or ["outbox"]))
    content = strict.CharField(
        max_length=20_000,
        help_text="The text; personal fields: " + ", ".join("{" + f + "}" for f in content.FIELDS) + ".",
    )
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                             help_text="When to send once approved; empty: when sent.")
    holdout_share = strict.DecimalField(max_digits=3, decimal_places=2, min_value=Decimal(0), max_value=Decimal("0.5"),
                                        required=False,
                                        default=Decimal(0), help_text="Share kept out at random, 0 to 0.5.")
    store = strict.CharField(required=False, allow_null=True, default=None,
                             help_text="A store's code, for a store campaign (store accounts: their own).")
    attachments = serializers.ListField(child=serializers.DictField(), required=False, default=list,
                                        help_text=ATTACHMENTS_HELP)
    recurrence = RecurrenceSerializer(required=False, allow_null=True, default=None,
                                      help_text="Make it a series: one run per occurrence (no scheduled_at then).")
    # Only the system's notices are transactional: a mass send marked so would slip past the caps.
    purpose = strict.ChoiceField(
        choices=[(Purpose.MARKETING.value, Purpose.MARKETING.label)], required=False, default=Purpose.MARKETING.value,
        help_text="Always marketing: service messages (transactional) are made by the system's notices only.",
        error_messages={"invalid_choice": "Only marketing: a service message (transactional) is made by the system's "
                                          "notices, never through the API."})


class CampaignImageSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = CampaignImage
        fields = ["id", "store", "name", "content_type", "size", "width", "height", "sha256", "created_at"]
        read_only_fields = fields


class CampaignImageInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A JPG or PNG image of at most 10 MB (what it is comes from its bytes).")
    store = strict.CharField(required=False, allow_blank=True, default="",
                             help_text="A store's code, for a store's image (store accounts: their own); "
                                       "empty: brand-wide.")


class SendInputSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                             help_text="Send at this time instead of now.")


class DeliverySerializer(serializers.ModelSerializer):
    reason = serializers.CharField(
        read_only=True, help_text="Why it was suppressed, deferred or failed (a DeliveryReason code); empty otherwise."
    )

    class Meta:
        model = Delivery
        fields = ["id", "member", "state", "reason", "attempts", "next_attempt_at", "provider_message_id", "error",
                  "created_at", "sent_at"]
        read_only_fields = fields


class OutboxMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutboxMessage
        fields = ["id", "campaign", "member", "delivery_id", "address", "text", "attachments", "created_at"]
        read_only_fields = fields
