"""Serializers of the webhooks API: subscriptions (the secret only in the answers that make one),
their deliveries and figures, the event types and the replay read's envelopes."""

from __future__ import annotations

from rest_framework import serializers

from scrm.api import fields as strict
from scrm.api.serializers import StrictModelSerializer
from scrm.models import Store
from webhooks.models import Delivery, Subscription

BIGINT = 2**63 - 1


class WebhookKeyRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SubscriptionSerializer(StrictModelSerializer):
    api_key = WebhookKeyRefSerializer(read_only=True)
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    signing_overlap_until = serializers.SerializerMethodField()

    class Meta:
        model = Subscription
        fields = ["id", "name", "url", "event_types", "store", "api_key", "state", "paused_reason", "paused_at",
                  "failing_since", "signing_overlap_until", "created_at", "updated_at"]
        read_only_fields = fields

    def get_signing_overlap_until(self, obj) -> str | None:
        """Until when the previous secret signs too (after a rotation); null otherwise."""
        until = obj.previous_secret_until
        return serializers.DateTimeField().to_representation(until) if until and obj.previous_secret else None


class CreatedSubscriptionSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text="The signing secret, shown this once.")

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class SubscriptionInputSerializer(serializers.Serializer):
    name = strict.CharField(max_length=100)
    url = strict.CharField(max_length=500, help_text="http(s) URL the deliveries are posted to.")
    event_types = serializers.ListField(child=strict.CharField(max_length=64), min_length=1, max_length=100,
                                        help_text="Codes from GET /api/v1/webhooks/event-types/.")
    store = strict.SlugRelatedField(slug_field="code", queryset=Store.objects.all(), required=False, allow_null=True,
                                    help_text="Store code: hear only this store's events (a store-bound key: its own).")
    api_key = strict.IntegerField(required=False, min_value=1, max_value=BIGINT,
                                  help_text="The integration's key id (operators' sessions; a key subscribes itself).")


class SubscriptionPatchSerializer(serializers.Serializer):
    name = strict.CharField(max_length=100, required=False)
    url = strict.CharField(max_length=500, required=False)
    event_types = serializers.ListField(child=strict.CharField(max_length=64), min_length=1, max_length=100,
                                        required=False)
    store = strict.SlugRelatedField(slug_field="code", queryset=Store.objects.all(), required=False, allow_null=True)


class WebhookSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret, shown this once.")
    previous_valid_until = serializers.DateTimeField(help_text="The previous secret signs too until then.")


class WebhookPauseInputSerializer(serializers.Serializer):
    reason = strict.CharField(max_length=300, required=False, allow_blank=True)


class WebhookRedeliverInputSerializer(serializers.Serializer):
    ids = serializers.ListField(child=strict.IntegerField(min_value=1, max_value=BIGINT), required=False, min_length=1,
                                max_length=1000, help_text="Parked deliveries to send again; leave out for all.")


class WebhookCountSerializer(serializers.Serializer):
    redelivered = serializers.IntegerField()


class WebhookReplayInputSerializer(serializers.Serializer):
    after = strict.IntegerField(required=False, min_value=0, max_value=BIGINT,
                                help_text="Replay events with a higher id.")
    since = serializers.DateTimeField(required=False, help_text="Replay events from this time on (ISO 8601).")


class WebhookReplayedSerializer(serializers.Serializer):
    requeued = serializers.IntegerField(help_text="Deliveries it had, pending again.")
    created = serializers.IntegerField(help_text="Events it never got, now queued.")


class WebhookEventRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class WebhookDeliverySerializer(StrictModelSerializer):
    event = WebhookEventRefSerializer(read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "event", "member_id", "state", "attempts", "next_attempt_at", "last_status", "last_error",
                  "created_at", "delivered_at", "latency_ms"]
        read_only_fields = fields


class WebhookDeliveryRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()


class WebhookPingSerializer(serializers.Serializer):
    delivery = WebhookDeliverySerializer()


class WebhookLatencySerializer(serializers.Serializer):
    _24h = serializers.IntegerField(allow_null=True)
    _7d = serializers.IntegerField(allow_null=True)

    def get_fields(self):
        fields = super().get_fields()
        return {"24h": fields.pop("_24h"), "7d": fields.pop("_7d")}


class WebhookFailureSerializer(serializers.Serializer):
    delivery = WebhookDeliveryRefSerializer()
    status = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()


class WebhookFiguresSerializer(serializers.Serializer):
    delivered = serializers.IntegerField()
    retrying = serializers.IntegerField(help_text="Pending after at least one failed attempt.")
    waiting = serializers.IntegerField(help_text="Pending, not tried yet.")
    parked = serializers.IntegerField()
    p95_latency_ms = WebhookLatencySerializer(
        help_text="95th percentile from event to delivery, last 24 hours and 7 days.")
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_failure = WebhookFailureSerializer(allow_null=True)


class WebhookEventTypeSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    scope = serializers.CharField(help_text="The read scope a key needs to hear the type.")
    resource = serializers.CharField()


class WebhookRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()


class WebhookEnvelopeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    occurred_at = serializers.CharField()
    member = WebhookRefSerializer(allow_null=True)
    store = WebhookRefSerializer(allow_null=True)
    data = serializers.DictField()


class WebhookEventQuerySerializer(serializers.Serializer):
    """The replay read's query parameters (documented; the view reads them itself)."""

    after = serializers.IntegerField(required=False, min_value=0, max_value=BIGINT,
                                     help_text="Events with a higher id (the last page's next).")
    since = serializers.DateTimeField(required=False, help_text="Events from this time on (ISO 8601, with offset).")
    types = serializers.CharField(required=False, help_text="Comma-separated type codes; each needs its read scope.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, help_text="1 to 1000 (default 100).")


class WebhookEventPageSerializer(serializers.Serializer):
    next = serializers.IntegerField(allow_null=True, help_text="The last id: ask again with after=next.")
    results = WebhookEnvelopeSerializer(many=True)
