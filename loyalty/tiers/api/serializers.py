"""Serializers of the tiers API. Reads are ModelSerializers; the ladder and floors are validated by
the services (tiers.services), so the API and the screens give the same errors."""

from __future__ import annotations

from rest_framework import serializers

from loyalty.tiers.models import DowngradePolicy, MemberTier, TierBasis, TierChange, TierLadder, TierLevel


class TierLevelSerializer(serializers.ModelSerializer):
    class Meta:
        model = TierLevel
        fields = ["id", "rank", "name", "threshold", "benefits", "colour"]


class TierLadderSerializer(serializers.ModelSerializer):
    levels = TierLevelSerializer(many=True, read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

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
    id = serializers.IntegerField(required=False, help_text="Keep an existing level (its members stay linked).")
    rank = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=64)
    threshold = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    benefits = serializers.CharField(required=False, allow_blank=True)
    colour = serializers.CharField(required=False, allow_blank=True, help_text="#rrggbb")


class TierLadderInputSerializer(serializers.Serializer):
    """For the schema only: tiers.services.save_ladder validates and names the level at fault."""

    name = serializers.CharField(required=False, allow_blank=True)
    basis = serializers.ChoiceField(choices=TierBasis.choices, required=False)
    window_days = serializers.IntegerField(min_value=1, required=False)
    downgrade_policy = serializers.ChoiceField(choices=DowngradePolicy.choices, required=False)
    period_end_month = serializers.IntegerField(min_value=1, max_value=12, required=False)
    period_end_day = serializers.IntegerField(min_value=1, max_value=31, required=False)
    grace_days = serializers.IntegerField(min_value=1, required=False)
    levels = TierLevelInputSerializer(
        many=True, required=False, help_text="The whole ladder; levels left out are removed."
    )


class LevelRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = TierLevel
        fields = ["id", "rank", "name"]


class MemberTierSerializer(serializers.ModelSerializer):
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


class TierChangeSerializer(serializers.ModelSerializer):
    changed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

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
    level = serializers.IntegerField(allow_null=True, help_text="Level id, or null to clear the floor.")
    reason = serializers.CharField(max_length=200)
