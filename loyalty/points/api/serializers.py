"""Shapes of the points API."""

from __future__ import annotations

from rest_framework import serializers

from loyalty.points.models import LotSource, PointEntry, PointLot, PointsPolicy, Redemption, Reward
from loyalty.points.services import POLICY_FIELDS, REWARD_FIELDS


class RewardSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reward
        fields = ["id", *REWARD_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        # The table's checks, said where a client can read them (empty per_member_limit: no limit).
        extra_kwargs = {"per_member_limit": {"min_value": 1}, "points_cost": {"min_value": 1}}


class PolicySerializer(serializers.ModelSerializer):
    currency_rates = serializers.DictField(
        child=serializers.FloatField(),
        required=False,
        help_text='Reporting-currency units per unit, e.g. {"HKD": 0.92}.',
    )
    tier_multipliers = serializers.DictField(
        child=serializers.FloatField(), required=False, help_text='By tier rank, e.g. {"4": 1.5}.'
    )
    category_multipliers = serializers.DictField(
        child=serializers.FloatField(), required=False, help_text='By order line category, e.g. {"milk powder": 2}.'
    )

    class Meta:
        model = PointsPolicy
        fields = [*POLICY_FIELDS, "updated_at"]  # what update_policy accepts, and when it changed
        read_only_fields = ["updated_at"]


class PointLotSerializer(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.external_id", default=None, read_only=True)
    # A plain string: the member centre already names a "source" choice set in the schema.
    source = serializers.CharField(read_only=True, help_text="One of: " + ", ".join(LotSource.values) + ".")

    class Meta:
        model = PointLot
        fields = [
            "id",
            "member",
            "source",
            "order",
            "order_number",
            "points",
            "remaining",
            "expired",
            "clawed_back",
            "reason",
            "earned_at",
            "expires_at",
        ]


class PointEntrySerializer(serializers.ModelSerializer):
    by = serializers.SerializerMethodField()
    explanation = serializers.CharField(
        source="description", read_only=True, help_text="Why, in the language of the request (Accept-Language)."
    )
    lots = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        read_only=True,
        help_text="[[lot id, points], ...] touched by the change.",
    )

    class Meta:
        model = PointEntry
        fields = [
            "id",
            "member",
            "kind",
            "delta",
            "balance_after",
            "unrecovered",
            "order",
            "redemption",
            "lots",
            "explanation",
            "by",
            "created_at",
        ]

    def get_by(self, entry) -> str:
        return entry.actor.get_username() if entry.actor_id else entry.actor_display


class RedemptionSerializer(serializers.ModelSerializer):
    reward_name = serializers.CharField(source="reward.name", read_only=True)
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, help_text="Store code.")

    class Meta:
        model = Redemption
        fields = [
            "id",
            "member",
            "reward",
            "reward_name",
            "points",
            "status",
            "store",
            "note",
            "created_at",
            "cancelled_at",
            "cancel_reason",
        ]


class ExpiringSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="The last day the points are valid.")
    points = serializers.IntegerField()


class MemberPointsSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    balance = serializers.IntegerField()
    earned_total = serializers.IntegerField()
    redeemed_total = serializers.IntegerField()
    expired_total = serializers.IntegerField()
    expiring = ExpiringSerializer(many=True)
    lots = PointLotSerializer(many=True, help_text="Lots with points left, soonest to expire first (at most 50).")
    entries = PointEntrySerializer(many=True, help_text="The latest ledger entries; /point-entries/ has them all.")


class RedeemInputSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    reward = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=200)


class CancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


class AdjustInputSerializer(serializers.Serializer):
    member = serializers.IntegerField()
    points = serializers.IntegerField(help_text="Positive adds a lot; negative removes, soonest to expire first.")
    reason = serializers.CharField(max_length=300, help_text="Shown to the member in their history.")
