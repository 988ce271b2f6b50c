"""Shapes of the points API."""

from __future__ import annotations

from rest_framework import serializers

from loyalty.points.models import LotSource, PointEntry, PointLot, PointsPolicy, Redemption, Reward
from loyalty.points.services import POLICY_FIELDS, REWARD_FIELDS
from scrm.api import fields as strict
from scrm.api.serializers import StrictModelSerializer


class RewardSerializer(StrictModelSerializer):
    class Meta:
        model = Reward
        fields = ["id", *REWARD_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        # The table's checks, said where a client can read them (empty per_member_limit: no limit).
        extra_kwargs = {"per_member_limit": {"min_value": 1}, "points_cost": {"min_value": 1}}


class PolicySerializer(StrictModelSerializer):
    currency_rates = serializers.DictField(
        child=strict.FloatField(),
        required=False,
        help_text='Reporting-currency units per unit, e.g. {"HKD": 0.92}.',
    )
    tier_multipliers = serializers.DictField(
        child=strict.FloatField(), required=False, help_text='By tier rank, e.g. {"4": 1.5}.'
    )
    category_multipliers = serializers.DictField(
        child=strict.FloatField(), required=False, help_text='By order line category, e.g. {"milk powder": 2}.'
    )

    class Meta:
        model = PointsPolicy
        fields = [*POLICY_FIELDS, "updated_at"]  # what update_policy accepts, and when it changed
        read_only_fields = ["updated_at"]


class PointLotSerializer(StrictModelSerializer):
    order_number = strict.CharField(source="order.external_id", default=None, read_only=True)
    # A plain string: the member centre already names a "source" choice set in the schema.
    source = strict.CharField(read_only=True, help_text="One of: " + ", ".join(LotSource.values) + ".")

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


class PointEntrySerializer(StrictModelSerializer):
    by = serializers.SerializerMethodField()
    explanation = strict.CharField(
        source="description", read_only=True, help_text="Why, in the language of the request (Accept-Language)."
    )
    lots = serializers.ListField(
        child=serializers.ListField(child=strict.IntegerField()),
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


class RedemptionSerializer(StrictModelSerializer):
    reward_name = strict.CharField(source="reward.name", read_only=True)
    store = strict.SlugRelatedField(slug_field="code", read_only=True, help_text="Store code.")

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
    points = strict.IntegerField()


class MemberPointsSerializer(serializers.Serializer):
    member = strict.IntegerField()
    balance = strict.IntegerField()
    earned_total = strict.IntegerField()
    redeemed_total = strict.IntegerField()
    expired_total = strict.IntegerField()
    expiring = ExpiringSerializer(many=True)
    lots = PointLotSerializer(many=True, help_text="Lots with points left, soonest to expire first (at most 50).")
    entries = PointEntrySerializer(many=True, help_text="The latest ledger entries; /point-entries/ has them all.")


class RedeemInputSerializer(serializers.Serializer):
    member = strict.IntegerField()
    reward = strict.IntegerField()
    note = strict.CharField(required=False, allow_blank=True, max_length=200)


class CancelInputSerializer(serializers.Serializer):
    reason = strict.CharField(required=False, allow_blank=True, max_length=200)


class AdjustInputSerializer(serializers.Serializer):
    member = strict.IntegerField()
    points = strict.IntegerField(help_text="Positive adds a lot; negative removes, soonest to expire first.")
    reason = strict.CharField(max_length=300, help_text="Shown to the member in their history.")
