"""Shapes of the orders API. Input serializers only document the request bodies: the services
check them (so the API, file imports and demo data share one set of rules)."""

from __future__ import annotations

from rest_framework import serializers

from loyalty.orders import queries
from loyalty.orders.models import AttributionPolicy, AttributionRule, Order, OrderChannel, OrderLine, Refund
from loyalty.orders.services import MAX_BATCH
from loyalty.orders.services.cleaning import MAX_LINES
from members.services import disclosure
from scrm.api import fields as strict
from scrm.api.serializers import StrictModelSerializer


class OrderBuyerSerializer(serializers.Serializer):
    channel = strict.CharField(help_text="A member identity channel: wecom, wechat_unionid, tmall, phone...")
    namespace = strict.CharField(required=False, allow_blank=True, help_text="Shop or app id, if any.")
    external_id = strict.CharField()


class OrderLineSerializer(StrictModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["id", "sku", "name", "category", "quantity", "amount", "refunded_amount"]


class OrderRefundSerializer(StrictModelSerializer):
    class Meta:
        model = Refund
        fields = ["id", "external_id", "line", "amount", "reason", "refunded_at", "created_at"]


class OrderSerializer(StrictModelSerializer):
    store = strict.SlugRelatedField(slug_field="code", read_only=True, help_text="Store code.")
    store_code = strict.CharField(
        source="store.code", read_only=True, allow_null=True, default=None, help_text="The same as `store`."
    )
    member = serializers.SerializerMethodField(
        help_text="The buyer's member id; null while the buyer is pending, or when the member belongs to a "
        "store the caller cannot see (the order is still credited to them)."
    )
    buyer = serializers.SerializerMethodField()
    pending_buyer = serializers.SerializerMethodField()
    net_amount = strict.DecimalField(max_digits=12, decimal_places=2, read_only=True)

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
    """An order line; null for an optional field is the same as leaving it out."""

    sku = strict.CharField(required=False, allow_null=True, max_length=64)
    name = strict.CharField(max_length=200)
    category = strict.CharField(
        required=False, allow_null=True, max_length=64, help_text="e.g. milk powder, diapers, toys."
    )
    # 100000: the bound loyalty.orders.services.cleaning holds a line's quantity to.
    quantity = strict.IntegerField(required=False, min_value=1, max_value=100000, default=1)
    amount = strict.DecimalField(max_digits=12, decimal_places=2, min_value=0, help_text="Paid for the line.")


class OrderInputSerializer(serializers.Serializer):
    """An order; null for an optional field is the same as leaving it out."""

    channel = strict.ChoiceField(choices=OrderChannel.choices)
    external_id = strict.CharField(max_length=128, help_text="The channel's order number; unique per channel.")
    placed_at = serializers.DateTimeField(help_text="ISO 8601; without an offset, the brand's time zone.")
    currency = strict.CharField(
        required=False, allow_null=True, help_text="One of the brand's currencies; the first by default."
    )
    total_amount = strict.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    store = strict.CharField(
        required=False, allow_null=True, max_length=32,
        help_text="Store code. Default: the store of a store-bound key, else the member's home store.",
    )
    member_id = strict.IntegerField(required=False, allow_null=True, min_value=1)
    buyer = OrderBuyerSerializer(
        required=False, allow_null=True, help_text="The buyer's identity on the channel, when no member_id."
    )
    phone = strict.CharField(
        required=False, allow_null=True, max_length=32, help_text="The buyer's phone, any common form."
    )
    guide = strict.CharField(
        required=False, allow_null=True, max_length=150,
        help_text="Username of the guide who sold it; credited when active staff of the order's store.",
    )
    referral_code = strict.CharField(required=False, allow_null=True, max_length=32)
    lines = OrderLineInputSerializer(
        many=True, required=False, allow_null=True, max_length=MAX_LINES,
        help_text="When given, their amounts must add up to total_amount.",
    )


class OrderBatchInputSerializer(serializers.Serializer):
    items = OrderInputSerializer(many=True, min_length=1, max_length=MAX_BATCH, help_text=f"1 to {MAX_BATCH} orders.")
    atomic = strict.BooleanField(
        required=False,
        default=False,
        help_text="false (default): valid items are recorded and each invalid one gets its own errors. "
        "true: all or nothing, a 400 naming each invalid item (details.items.<index>.<field>).",
    )


class OrderBatchItemResultSerializer(serializers.Serializer):
    index = strict.IntegerField()
    status = strict.ChoiceField(choices=["created", "existing", "conflict", "invalid"])
    id = strict.IntegerField(allow_null=True, help_text="The order (new or already recorded).")
    member = strict.IntegerField(allow_null=True, help_text="Null while the buyer is not a known member.")
    errors = serializers.DictField(
        required=False,
        help_text="For invalid and conflict items: messages by field (for a conflict, the fields "
        "whose value differs from the order recorded under this number).",
    )


class OrderBatchResponseSerializer(serializers.Serializer):
    created = strict.IntegerField()
    existing = strict.IntegerField()
    conflict = strict.IntegerField(help_text="Items whose order number was recorded with other content.")
    invalid = strict.IntegerField()
    results = OrderBatchItemResultSerializer(many=True)


class OrderRefundInputSerializer(serializers.Serializer):
    external_id = strict.CharField(max_length=128, help_text="The channel's refund number; unique per order.")
    amount = strict.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    line = strict.IntegerField(required=False, help_text="A line of this order, for a line refund.")
    reason = strict.CharField(required=False, max_length=200)
    refunded_at = serializers.DateTimeField(required=False)


class OrderRefundResponseSerializer(serializers.Serializer):
    created = strict.BooleanField()
    refund = OrderRefundSerializer()
    order = OrderDetailSerializer()


class AttributionPolicySerializer(StrictModelSerializer):
    rule = strict.ChoiceField(
        choices=[(r.value, r.label) for r in (AttributionRule.OWNER, AttributionRule.LAST_SERVED)]
    )

    class Meta:
        model = AttributionPolicy
        fields = ["rule", "window_days", "updated_at"]
        read_only_fields = ["updated_at"]
        # The default policy, never saved, has no updated_at.
        extra_kwargs = {"updated_at": {"allow_null": True}, "window_days": {"min_value": 1, "max_value": 365}}
