"""Serializers of the segments API: shapes only; rules live in services and queries."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from members.segments import queries, services
from members.segments.filters import hidden_attribute_errors
from members.segments.models import Segment, SegmentSnapshot
from scrm.api import fields as strict
from scrm.api.serializers import StrictModelSerializer
from scrm.models import Store


def _definition(value, actor):
    """A valid definition using only what `actor` may see: an attribute hidden from them (sensitive,
    for store staff and store-bound keys) is refused like an unknown one, as the builder does."""
    try:
        tree = queries.validate_definition(value)
    except queries.DefinitionError as exc:
        raise serializers.ValidationError(exc.errors) from None
    if actor is not None and (errors := hidden_attribute_errors(tree, actor)):
        raise serializers.ValidationError(errors)
    return value


class _ActorMixin:
    def _actor(self):
        request = self.context.get("request")
        return getattr(request, "user", None)


class SegmentSerializer(_ActorMixin, StrictModelSerializer):
    store = strict.SlugRelatedField(
        slug_field="code", queryset=Store.objects.all(), required=False, allow_null=True,
        help_text=_("Store code; empty for a brand-wide segment. Store roles always make their own store's."),
    )
    created_by = strict.SlugRelatedField(slug_field="username", read_only=True)
    definition = serializers.JSONField(help_text=_("See GET /api/v1/segments/filters/ for the conditions."))
    editable = serializers.SerializerMethodField(
        help_text=_("False for a brand-wide segment read by a store account: it may use it, not change it."))

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "definition", "store", "created_by", "created_at", "updated_at",
                  "last_count", "last_counted_at", "editable"]
        read_only_fields = ["created_by", "created_at", "updated_at", "last_count", "last_counted_at"]

    def get_editable(self, segment) -> bool:
        actor = self._actor()
        return actor is not None and services.can_change(segment, actor)

    def to_representation(self, segment):
        data = super().to_representation(segment)
        actor = self._actor()
        if actor is not None and not queries.sees_whole_audience(segment, actor):
            # The kept figure covers stores the reader cannot see; POST recount/ counts their part.
            data["last_count"] = data["last_counted_at"] = None
        return data

    def validate_definition(self, value):
        return _definition(value, self._actor())


class PreviewRequestSerializer(_ActorMixin, serializers.Serializer):
    definition = serializers.JSONField()
    sample = strict.IntegerField(min_value=0, max_value=100, default=20,
                                 help_text=_("How many of the newest matching members to return."))

    def validate_definition(self, value):
        return _definition(value, self._actor())


class SnapshotSerializer(StrictModelSerializer):
    taken_by = strict.SlugRelatedField(slug_field="username", read_only=True)
    store = strict.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = SegmentSnapshot
        fields = ["id", "segment", "taken_at", "taken_by", "store", "member_count", "definition"]
        read_only_fields = fields
