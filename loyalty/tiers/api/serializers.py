"""Serializers of the tiers API. Reads are ModelSerializers; the ladder and floors are validated by
the services (tiers.services), so the API and the screens give the same errors."""

from __future__ import annotations

from rest_framework import serializers

from loyalty.tiers.models import DowngradePolicy, MemberTier, TierBasis, TierChange, TierLadder, TierLevel
from loyalty.tiers.services.ladder import MAX_LEVELS
from scrm.api import fields as strict
from scrm.api.serializers import StrictModelSerializer


class TierLevelSerializer(StrictModelSerializer):
    class Meta:
        model = TierLevel
        fields = ["id", "rank", "name", "threshold", "benefits", "colour"]


class TierLadderSerializer(StrictModelSerializer):
    levels = TierLevelSerializer(many=True, read_only=True)
    updated_by = strict.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TierLadder
        fields = [
            "name",
            "basis",
            "window_days",
            "downgrade_policy",
            "period_end_month",
            "period_end_day",
            "grace_days",
            "levels",
            "updated_at",
            "updated_by",
        ]


class TierLevelInputSerializer(serializers.Serializer):
    id = strict.IntegerField(required=False, help_text="Keep an existing level (its members stay linked).")
    rank = strict.IntegerField(min_value=1)
    name = strict.CharField(max_length=64)
    threshold = strict.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    benefits = strict.CharField(required=False, allow_blank=True)
    colour = strict.CharField(required=False, allow_blank=True, help_text="#rrggbb")


class TierLadderInputSerializer(serializers.Serializer):
    """For the schema only: tiers.services.save_ladder validates and names the level at fault."""

    name = strict.CharField(required=False, allow_blank=True)
    basis = strict.ChoiceField(choices=TierBasis.choices, required=False)
    window_days = strict.IntegerField(min_value=1, required=False)
    downgrade_policy = strict.ChoiceField(choices=DowngradePolicy.choices, required=False)
    period_end_month = strict.IntegerField(min_value=1, max_value=12, required=False)
    period_end_day = strict.IntegerField(min_value=1, max_value=31, required=False)
    grace_days = strict.IntegerField(min_value=1, required=False)
    levels = TierLevelInputSerializer(
        many=True, required=False, min_length=1, max_length=MAX_LEVELS,
        help_text="The whole ladder; levels left out are removed.",
    )


class LevelRefSerializer(StrictModelSerializer):
    class Meta:
        model = TierLevel
        fields = ["id", "rank", "name"]


class MemberTierSerializer(StrictModelSerializer):
    level = LevelRefSerializer(read_only=True)
    earned_level = LevelRefSerializer(read_only=True)
    floor_level = LevelRefSerializer(read_only=True)

    class Meta:
        model = MemberTier
        fields = [
            "member",
            "level",
            "earned_level",
            "floor_level",
            "floor_reason",
            "qualifying_value",
            "since",
            "downgrade_due",
            "computed_at",
        ]
        # A member never ranked is answered in the same shape, with no start and no computation yet.
        extra_kwargs = {"since": {"allow_null": True}, "computed_at": {"allow_null": True}}


class MemberTierDetailSerializer(MemberTierSerializer):
    next_level = serializers.SerializerMethodField()
    missing_to_next = serializers.SerializerMethodField()

    class Meta(MemberTierSerializer.Meta):
        fields = MemberTierSerializer.Meta.fields + ["next_level", "missing_to_next"]

    def get_next_level(self, obj) -> dict | None:
        upcoming = self.context["progress"]["next"]
        return LevelRefSerializer(upcoming).data if upcoming else None

    def get_missing_to_next(self, obj) -> str:
        return f"{self.context['progress']['missing']:.2f}"


class TierChangeSerializer(StrictModelSerializer):
    changed_by = strict.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TierChange
        fields = [
            "id",
            "member",
            "from_level",
            "to_level",
            "from_name",
            "to_name",
            "from_rank",
            "to_rank",
            "reason",
            "qualifying_value",
            "note",
            "changed_by",
            "actor_label",
            "created_at",
        ]


class FloorInputSerializer(serializers.Serializer):
    level = strict.IntegerField(allow_null=True, help_text="Level id, or null to clear the floor.")
    reason = strict.CharField(required=False, allow_blank=True, max_length=200,
                              help_text="Why; required when setting a level, not when clearing the floor.")
