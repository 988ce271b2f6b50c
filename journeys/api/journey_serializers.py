"""Serializers of the journeys API: a journey with its current steps, the bodies it takes (strict
fields; the steps' settings are checked by journeys.services.journeys, which names the step and the
field of every error), its runs and its figures per step."""

from __future__ import annotations

from rest_framework import serializers

from journeys.models import (
    NAME_MAX,
    EntryPeriod,
    EntryRule,
    Goal,
    Journey,
    JourneyRun,
    JourneyState,
    JourneyStep,
    RunState,
    StepKind,
    Trigger,
)
from scrm.api import fields as strict


class JourneyStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = JourneyStep
        fields = ["id", "version", "position", "kind", "config"]
        read_only_fields = fields


class JourneySerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    steps = serializers.SerializerMethodField()
    entry_period = serializers.ChoiceField(choices=EntryPeriod.choices, allow_blank=True, read_only=True)
    state = serializers.ChoiceField(choices=JourneyState.choices, read_only=True)

    class Meta:
        model = Journey
        fields = ["id", "name", "description", "store", "state", "trigger", "trigger_params", "entry_rule",
                  "entry_period", "goal", "goal_params", "version", "template", "steps", "created_at", "updated_at",
                  "activated_at", "ended_at"]
        read_only_fields = fields

    def get_steps(self, journey) -> list[dict]:
        steps = [s for s in journey.steps.all() if s.version == journey.version]
        return JourneyStepSerializer(sorted(steps, key=lambda s: s.position), many=True).data


class JourneyStepInputSerializer(serializers.Serializer):
    kind = strict.ChoiceField(choices=StepKind.choices)
    config = serializers.DictField(required=False, default=dict, help_text=(
        "wait: mode duration (days, hours, minutes) | weekday (weekday 0-6, at HH:MM) | date (date, at) | "
        "day_after_trigger (days >= 1, at); send: channel, content; task: kind, title, message, priority 1-3, "
        "due_hours, assignee (a staff id; empty: the member's owner, else the pool); branch: condition "
        "(tag + tag | tier + rank | ordered | clicked | replied) and goto (a later position); exit: nothing."))


class JourneyInputSerializer(serializers.Serializer):
    name = strict.CharField(max_length=NAME_MAX)
    description = strict.CharField(required=False, allow_blank=True, default="", max_length=300)
    store = strict.CharField(required=False, allow_blank=True, default="",
                             help_text="A store's code; empty: brand-wide (store accounts: their own store).")
    trigger = strict.ChoiceField(choices=Trigger.choices)
    trigger_params = serializers.DictField(required=False, default=dict, help_text=(
        "joined: channel_code (a channel code's state); tag_added: tag; tier_changed: rank (reached, from below); "
        "child_birth_month: attribute (a month attribute's code); repurchase_due: category; points_expiring: days; "
        "dormant: days; event_attended: event, community; segment_entered: segment."))
    entry_rule = strict.ChoiceField(choices=EntryRule.choices, required=False, default=EntryRule.ONCE)
    entry_period = strict.ChoiceField(choices=EntryPeriod.choices, required=False, allow_blank=True, default="")
    goal = strict.ChoiceField(choices=Goal.choices, required=False, default=Goal.NONE)
    goal_params = serializers.DictField(required=False, default=dict, help_text="tag: tag (its id).")
    steps = JourneyStepInputSerializer(many=True, allow_empty=True)


class JourneyPatchSerializer(JourneyInputSerializer):
    """Every field optional: what is left out stays as it is."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, f in self.fields.items():
            f.required = False
            if name != "store":
                f.default = serializers.empty


class JourneyRunSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    state = serializers.ChoiceField(choices=RunState.choices, read_only=True)
    step = serializers.SerializerMethodField()

    class Meta:
        model = JourneyRun
        fields = ["id", "member", "store", "version", "period_key", "step", "next_due_at", "state", "reason",
                  "trigger_at", "entered_at", "finished_at", "converted_at"]
        read_only_fields = fields

    def get_step(self, run) -> int | None:
        """The position of the step the member is at (empty once finished)."""
        return run.step.position if run.step_id else None


class JourneyStepFiguresSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField()
    position = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=StepKind.choices)
    reached = serializers.IntegerField()
    converted = serializers.IntegerField(help_text="Of those who reached it, members who met the goal later.")
    outcomes = serializers.DictField(child=serializers.IntegerField())


class JourneyFiguresSerializer(serializers.Serializer):
    entered = serializers.IntegerField()
    active = serializers.IntegerField()
    done = serializers.IntegerField()
    exited = serializers.IntegerField()
    converted = serializers.IntegerField()
    version = serializers.IntegerField()
    steps = JourneyStepFiguresSerializer(many=True)


class JourneyTemplateSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    help = serializers.CharField()
    journey = serializers.DictField(help_text="A body for POST /api/v1/journeys/ (its text in your language).")
