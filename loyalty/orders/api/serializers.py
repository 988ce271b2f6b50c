"""Shapes of the orders API. Input serializers only document the request bodies: the services
check them (so the API, file imports and demo data share one set of rules)."""

from __future__ import annotations

from rest_framework import serializers

from loyalty.orders import queries
from loyalty.orders.models import AttributionPolicy, AttributionRule, Order, OrderChannel, OrderLine, Refund
from loyalty.orders.services import MAX_BATCH
from members.services import disclosure


class OrderBuyerSerializer(serializers.Serializer):
    channel = serializers.CharField(help_text="A member identity channel: wecom, wechat_unionid, tmall, phone...")
    namespace = serializers.CharField(required=False, allow_blank=True, help_text="Shop or app id, if any.")
    external_id = serializers.CharField()


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["id", "sku", "name", "category", "quantity", "amount", "refunded_amount"]


class OrderRefundSerializer(serializers.ModelSerializer):
    class Meta:
        model = Refund
        fields = ["id", "external_id", "line", "amount", "reason", "refunded_at", "created_at"]


class OrderSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text="Store code.")
    store_code = serializers.CharField(
        source="store.code", read_only=True, allow_null=True, default=None, help_text="The same as `store`."
    )
    member = serializers.SerializerMethodField(
        help_text="The buyer's member id; null while the buyer is pending, or when the member belongs to a "
        "store the caller cannot see (the order is still credited to them)."
    )
    buyer = serializers.SerializerMethodField()
    pending_buyer = serializers.SerializerMethodField()
    net_amount = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "channel",
            "external_id",
            "member",
            "pending_buyer",
            "buyer",
            "store",
            "store_code",
            "staff",
            "attribution",
            "referral_code",
            "currency",
            "total_amount",
            "refunded_amount",
            "net_amount",
            "status",
            "placed_at",
            "created_at",
        ]

    def _member_visible(self, order) -> bool:
        """Whether the caller may see the order's member; no caller in the context sees none."""
        request = self.context.get("request")
        actor = self.context.get("actor") or getattr(request, "user", None)
        return actor is not None and queries.member_visible(actor, order)

    def get_member(self, order) -> int | None:
        return order.member_id if self._member_visible(order) else None

    def _full_identifiers(self) -> bool:
        """Whether the caller sees buyers' phones in full (members.services.disclosure), once per answer."""
        if "full_identifiers" not in self.context:
            request = self.context.get("request")
            actor = self.context.get("actor") or getattr(request, "user", None)
            self.context["full_identifiers"] = actor is not None and disclosure.sees_full_identifiers(actor)
        return self.context["full_identifiers"]

    def get_buyer(self, order) -> OrderBuyerSerializer(allow_null=True):
        if not order.buyer_external_id:
            return None
        visible = self._member_visible(order)
        full = visible and (order.buyer_channel != "phone" or self._full_identifiers())
        return {
            "channel": order.buyer_channel,
            "namespace": order.buyer_namespace,
            "external_id": order.buyer_external_id
            if full
            else queries.masked_identity(order.buyer_channel, order.buyer_external_id),
        }

    def get_pending_buyer(self, order) -> bool:
        return order.member_id is None


class OrderDetailSerializer(OrderSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    refunds = OrderRefundSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "lines", "refunds"]


class OrderLineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(required=False, max_length=64)
    name = serializers.CharField(max_length=200)
    category = serializers.CharField(required=False, max_length=64, help_text="e.g. milk powder, diapers, toys.")
    quantity = serializers.IntegerField(required=False, min_value=1, default=1)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, help_text="Paid for the line.")


class OrderInputSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=OrderChannel.choices)
    external_id = serializers.CharField(max_length=128, help_text="The channel's order number; unique per channel.")
    placed_at = serializers.DateTimeField(help_text="ISO 8601; without an offset, the brand's time zone.")
    currency = serializers.CharField(required=False, help_text="One of the brand's currencies; the first by default.")
    total_amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    store = serializers.CharField(
        required=False, help_text="Store code. Default: the store of a store-bound key, else the member's home store."
    )
    member_id = serializers.IntegerField(required=False)
    buyer = OrderBuyerSerializer(required=False, help_text="The buyer's identity on the channel, when no member_id.")
    phone = serializers.CharField(required=False, help_text="The buyer's phone, any common form.")
    guide = serializers.CharField(
        required=False, help_text="Username of the guide who sold it; credited when active staff of the order's store."
    )
    referral_code = serializers.CharField(required=False, max_length=32)
    lines = OrderLineInputSerializer(
        many=True, required=False, help_text="When given, their amounts must add up to total_amount."
    )


class OrderBatchInputSerializer(serializers.Serializer):
    items = OrderInputSerializer(many=True, min_length=1, max_length=MAX_BATCH, help_text=f"1 to {MAX_BATCH} orders.")
    atomic = serializers.BooleanField(
        required=False,
        default=False,
        help_text="false (default): valid items are recorded and each invalid one gets its own errors. "
        "true: all or nothing, a 400 naming each invalid item (details.items.<index>.<field>).",
    )


class OrderBatchItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "existing", "conflict", "invalid"])
    id = serializers.IntegerField(allow_null=True, help_text="The order (new or already recorded).")
    member = serializers.IntegerField(allow_null=True, help_text="Null while the buyer is not a known member.")
    errors = serializers.DictField(
        required=False,
        help_text="For invalid and conflict items: messages by field (for a conflict, the fields "
        "whose value differs from the order recorded under this number).",
    )


class OrderBatchResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    existing = serializers.IntegerField()
    conflict = serializers.IntegerField(help_text="Items whose order number was recorded with other content.")
    invalid = serializers.IntegerField()
    results = OrderBatchItemResultSerializer(many=True)


class OrderRefundInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=128, help_text="The channel's refund number; unique per order.")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    line = serializers.IntegerField(required=False, help_text="A line of this order, for a line refund.")
    reason = serializers.CharField(required=False, max_length=200)
    refunded_at = serializers.DateTimeField(required=False)


class OrderRefundResponseSerializer(serializers.Serializer):
    created = serializers.BooleanField()
    refund = OrderRefundSerializer()
    order = OrderDetailSerializer()


class AttributionPolicySerializer(serializers.ModelSerializer):
    rule = serializers.ChoiceField(
        choices=[(r.value, r.label) for r in (AttributionRule.OWNER, AttributionRule.LAST_SERVED)]
    )

    class Meta:
        model = AttributionPolicy
        fields = ["rule", "window_days", "updated_at"]
        read_only_fields = ["updated_at"]
        # The default policy, never saved, has no updated_at.
        extra_kwargs = {"updated_at": {"allow_null": True}, "window_days": {"min_value": 1, "max_value": 365}}
