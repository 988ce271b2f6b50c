"""GET /api/v1/members/{member_id}/timeline/: the member's history from every app (members.timeline),
newest first, cursor-paged, in the language of the request."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from members import timeline
from members.models import Member
from scrm.api.filters import COMMON_QUERY_PARAMS, refuse_unknown_params
from scrm.api.schema import ERRORS, path_id
from scrm.api.viewsets import NestedScopedMixin, ScopedViewSet

QUERY_PARAMS = ("kind", "cursor", "limit")


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="What the entry is about: one of the kinds a filter accepts.")
    kind_label = serializers.CharField(help_text="The kind in the language of the request.")
    code = serializers.CharField(help_text="What happened, as a stable code within its kind.")
    text = serializers.CharField(help_text="What happened, in the language of the request (Accept-Language).")
    params = serializers.SerializerMethodField(help_text="The values the text is made of, as shown to the caller.")
    by = serializers.CharField(source="actor", help_text="Who did it: a staff member, an API key or a rule.")

    def get_params(self, entry) -> dict:
        return {key: timeline.param_value(value) for key, value in entry.params.items()}


class TimelinePageSerializer(serializers.Serializer):
    results = TimelineEntrySerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next (older) page.")
    kinds = serializers.DictField(child=serializers.CharField(), help_text="Every kind and its label.")


class MemberTimelineViewSet(NestedScopedMixin, ScopedViewSet):
    """A member's timeline: tags, notes, orders, points, tier moves, consent, merges and more."""

    scope_resource = "members"
    list_answers_one = True  # one page object (items and the next cursor), not a list
    # The member comes from the scoped queryset before anything else runs (404 across stores).
    parent_queryset = Member.live.all()
    parent_kwarg = "member_id"
    parent_attr = "member"

    @extend_schema(
        summary="A member's timeline",
        description=(
            "Everything that happened to the member, from every part of Siyu, newest first. Each entry's "
            "`text` is in the language of the request, whatever language it was recorded in. Pages are "
            "bounded: follow `next` with `cursor`. Values the caller's role may not see (sensitive "
            "attributes for store staff) are left out."
        ),
        parameters=[
            path_id("member_id", "The member."),
            OpenApiParameter(
                "kind",
                OpenApiTypes.STR,
                many=True,
                explode=True,
                description="Only these kinds (repeat the parameter for several).",
            ),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="The `next` of the previous page."),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": timeline.MAX_PAGE_SIZE},
                description=f"Entries per page, 1 to {timeline.MAX_PAGE_SIZE} (default {timeline.PAGE_SIZE}).",
            ),
        ],
        responses={200: TimelinePageSerializer, **ERRORS},
    )
    def list(self, request, member_id=None):
        refuse_unknown_params(request.query_params, set(COMMON_QUERY_PARAMS) | set(QUERY_PARAMS))
        page = timeline.page(
            self.member,
            self.actor,
            kinds=request.query_params.getlist("kind"),
            cursor=request.query_params.get("cursor") or None,
            limit=timeline.clean_limit(request.query_params.get("limit")),
        )
        return Response(
            {
                "results": TimelineEntrySerializer(page.entries, many=True).data,
                "next": page.next_cursor,
                "kinds": {k.code: str(k.label) for k in timeline.kinds()},
            }
        )
