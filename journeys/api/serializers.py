"""Serializers of the staff tasks API: what it answers (titles and messages worded in the reader's
language) and the bodies it takes (strict fields)."""

from __future__ import annotations

from rest_framework import serializers

from journeys.models import MESSAGE_MAX, NOTE_MAX, TITLE_MAX, Task, TaskKind, TaskOutcome, TaskPriority
from scrm.api import fields as strict

PRIORITY_NAMES = {TaskPriority.HIGH: "high", TaskPriority.NORMAL: "normal", TaskPriority.LOW: "low"}
PRIORITY_VALUES = {name: value for value, name in PRIORITY_NAMES.items()}
MANUAL_KINDS = [(k, label) for k, label in TaskKind.choices if k in (TaskKind.FOLLOW_UP, TaskKind.CUSTOM)]




class TaskSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    title = serializers.CharField(source="title_text", read_only=True, help_text="Worded in the reader's language.")
    message = serializers.CharField(source="message_text", read_only=True,
                                    help_text="The suggested message, worded in the reader's language.")
    priority = serializers.SerializerMethodField()
    # Empty until the task is done: declared, since a read-only model field loses allow_blank.
    outcome = serializers.ChoiceField(choices=TaskOutcome.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Task
        fields = ["id", "kind", "store", "member", "assignee", "title", "message", "code", "params", "due_at",
                  "priority", "state", "outcome", "note", "done_at", "done_by", "done_by_label", "source",
                  "dedupe_key", "created_at"]
        read_only_fields = fields

    def get_priority(self, task) -> str:
        return PRIORITY_NAMES.get(task.priority, "normal")


class TaskInputSerializer(serializers.Serializer):
    store = strict.CharField(help_text="The store's code (store accounts: their own).")
    kind = strict.ChoiceField(choices=MANUAL_KINDS, help_text="Tasks made by hand: a follow-up or a custom task.")
    member = strict.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                 help_text="The member (of the store); required for a follow-up.")
    assignee = strict.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                   help_text="A staff member of the store; empty: the member's owner, else the pool "
                                             "(a clerk's own task when a clerk makes it).")
    title = strict.CharField(required=False, allow_blank=True, default="", max_length=TITLE_MAX)
    message = strict.CharField(required=False, allow_blank=True, default="", max_length=MESSAGE_MAX)
    due_at = serializers.DateTimeField()
    priority = strict.ChoiceField(choices=list(PRIORITY_VALUES), required=False, default="normal")


class CompleteInputSerializer(serializers.Serializer):
    outcome = strict.ChoiceField(choices=TaskOutcome.choices)
    note = strict.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX)


class SkipInputSerializer(serializers.Serializer):
    reason = strict.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX)


class ReassignInputSerializer(serializers.Serializer):
    assignee = strict.IntegerField(min_value=1, allow_null=True,
                                   help_text="A staff member of the task's store, or null for the store's pool.")
