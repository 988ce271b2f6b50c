"""Serializers of the KOC programme's API (levels, benefits, launches, tier runs, level changes, what
the next level needs, mentor templates): what it answers, and the bodies it takes (strict: an
unknown field is a 400 naming it)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers

from koc.models import Benefit, BenefitKind, Launch, Level, LevelChange, MentorTemplate, Platform, TierRun
from scrm.api import fields as strict


class StrictBody(serializers.Serializer):
    """A body whose unknown fields are a 400 naming each (a misspelt field is never silently ignored)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = [key for key in data if key not in self.fields]
            if unknown:
                raise serializers.ValidationError({key: [_("Unknown field; known: %(known)s.") % {
                    "known": ", ".join(self.fields)}] for key in unknown})
        return super().to_internal_value(data)


# --- levels ---------------------------------------------------------------------------------------


class LevelSerializer(serializers.ModelSerializer):
    creators = serializers.SerializerMethodField(help_text="Creators at this level now (in the caller's reach).")

    class Meta:
        model = Level
        fields = ["id", "rank", "name", "description", "min_posts", "min_viral", "min_interactions", "creators",
                  "created_at"]
        read_only_fields = fields

    def get_creators(self, level) -> int:
        counts = self.context.get("counts") or {}
        return counts.get(level.pk, 0)


class LevelInputSerializer(StrictBody):
    id = strict.IntegerField(min_value=1, required=False, help_text="An existing level's id (to edit it); "
                                                                     "none to add a level.")
    rank = strict.IntegerField(min_value=1, max_value=12, help_text="1 is the base of the pyramid.")
    name = strict.CharField(max_length=40)
    description = strict.CharField(required=False, allow_blank=True, default="", max_length=2000)
    min_posts = strict.IntegerField(min_value=0, required=False, default=0, help_text="Posts published in the "
                                                                                        "window, at least.")
    min_viral = strict.IntegerField(min_value=0, required=False, default=0, help_text="Viral posts, at least.")
    min_interactions = strict.IntegerField(min_value=0, max_value=2**62, required=False, default=0,
                                           help_text="Weighted interactions, at least.")


class LadderInputSerializer(StrictBody):
    levels = LevelInputSerializer(many=True, help_text="Every level: a level left out is removed (refused "
                                                       "while creators hold it).")


class LadderSerializer(serializers.Serializer):
    levels = LevelSerializer(many=True)


# --- benefits and launches ------------------------------------------------------------------------


KINDS = ", ".join(BenefitKind.values)


class BenefitSerializer(serializers.ModelSerializer):
    level = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The lowest level that earns it.")
    kind = serializers.CharField(read_only=True, help_text=f"One of {KINDS}.")
    holders = serializers.IntegerField(read_only=True, help_text="Creators holding it now.")

    class Meta:
        model = Benefit
        fields = ["id", "level", "kind", "name", "description", "early_days", "community", "active", "holders",
                  "created_at"]
        read_only_fields = fields


class BenefitInputSerializer(StrictBody):
    level = strict.IntegerField(min_value=1, help_text="The lowest level that earns it (creators at it or above "
                                                       "hold it).")
    # Text rather than an enum: "kind" names other choice sets across the API (the service checks it).
    kind = strict.CharField(max_length=16, help_text=f"One of {KINDS}.")
    name = strict.CharField(max_length=80)
    description = strict.CharField(required=False, allow_blank=True, default="", max_length=4000)
    early_days = strict.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=60,
                                     help_text="Early access only: days before a launch's public date.")
    community = strict.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                    help_text="Community benefits only: the community holders join.")
    active = strict.BooleanField(required=False, default=True)


class LaunchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Launch
        fields = ["id", "name", "description", "public_at", "created_at"]
        read_only_fields = fields


class LaunchInputSerializer(StrictBody):
    name = strict.CharField(max_length=120)
    description = strict.CharField(required=False, allow_blank=True, default="", max_length=4000)
    public_at = serializers.DateTimeField(help_text="When everyone may buy.")


class EarlyAccessSerializer(serializers.Serializer):
    launch = serializers.IntegerField()
    member = serializers.IntegerField()
    at = serializers.DateTimeField()
    public_at = serializers.DateTimeField()
    can_buy = serializers.BooleanField(help_text="Whether the member may buy the launch now.")
    early_days = serializers.IntegerField(allow_null=True, help_text="The member's early access in days "
                                                                     "(null: none).")
    opens_at = serializers.DateTimeField(help_text="When the member may buy (public_at less their early days).")


# --- tier runs and history ------------------------------------------------------------------------


class TierRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = TierRun
        fields = ["id", "started_at", "finished_at", "period_end", "trigger", "creators", "promoted", "demoted",
                  "kept_by_grace", "grants", "revokes", "error"]
        read_only_fields = fields


class TierRunInputSerializer(StrictBody):
    period_end = strict.BooleanField(required=False, allow_null=True, default=None,
                                     help_text="Demote at a period's end; null (the default): decided by the date.")


class LevelChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = LevelChange
        fields = ["id", "creator", "from_level", "to_level", "reason", "posts", "viral", "interactions", "run", "by",
                  "at"]
        read_only_fields = fields


class BriefLevelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rank = serializers.IntegerField()
    name = serializers.CharField()


class NeedSerializer(serializers.Serializer):
    minimum = serializers.CharField(help_text="min_posts, min_viral or min_interactions.")
    label = serializers.CharField()
    have = serializers.IntegerField(help_text="What the last recalculation counted in the window.")
    need = serializers.IntegerField()
    missing = serializers.IntegerField()
    met = serializers.BooleanField()


class NextLevelSerializer(serializers.Serializer):
    creator = serializers.IntegerField()
    current = BriefLevelSerializer(allow_null=True)
    next = BriefLevelSerializer(allow_null=True, help_text="Null at the top of the pyramid.")
    at_top = serializers.BooleanField()
    counted_at = serializers.DateTimeField(allow_null=True)
    needs = NeedSerializer(many=True)


# --- mentor templates -----------------------------------------------------------------------------


class TemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = MentorTemplate
        fields = ["id", "mentor", "title", "body", "platform", "created_at"]
        read_only_fields = fields


class TemplateInputSerializer(StrictBody):
    title = strict.CharField(max_length=120)
    body = strict.CharField(max_length=8000)
    platform = strict.ChoiceField(choices=[("", "")] + list(Platform.choices), required=False, default="",
                                  allow_blank=True)
