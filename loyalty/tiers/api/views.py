"""Tiers API: the ladder (read by everyone, written by operators), member tiers, their history and
manual floors. Views stay thin: they find objects through scoped querysets (404 across stores),
hand bodies to tiers.services and shape the answer."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from loyalty.tiers import queries, services
from loyalty.tiers.api import serializers as s
from loyalty.tiers.filters import MemberTierFilterSet, TierChangeFilterSet
from loyalty.tiers.models import MemberTier, TierChange, TierLadder
from members import sql as members_sql
from members.models import Member
from scrm.api.body import json_object
from scrm.api.pagination import Cursor
from scrm.api.parsers import JSONParser
from scrm.api.schema import NOT_FOUND, ErrorSerializer, path_id
from scrm.api.viewsets import NestedScopedMixin, ScopedQuerysetMixin, ScopedReadOnlyViewSet
from scrm.errors import InvalidInput

ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer,
        description="Invalid data; details name each field, and each level by its position in `levels`.",
    ),
    404: NOT_FOUND,
}
MEMBER_ID = path_id("member_id", "Member id.")

LIVE = {f"member__{lookup}": value for lookup, value in members_sql.LIVE.items()}


def _ladder_response(ladder: TierLadder | None) -> Response:
    if ladder is None:
        raise NotFound(_("No tier ladder yet: an operator creates it with PUT /api/v1/tier-ladder/current/."))
    ladder = TierLadder.objects.select_related("updated_by").prefetch_related("levels").get(pk=ladder.pk)
    return Response(s.TierLadderSerializer(ladder).data)


class TierLadderViewSet(ScopedQuerysetMixin, viewsets.GenericViewSet):
    """One ladder per brand, at /tier-ladder/current/ (its only address: GET, PUT, PATCH)."""

    queryset = TierLadder.objects.all()
    serializer_class = s.TierLadderSerializer
    scope_resource = "tiers"
    parser_classes = [JSONParser]
    pagination_class = None
    filterset_class = None

    @extend_schema(summary="The brand's tier ladder", responses={200: s.TierLadderSerializer, 404: ERRORS[404]})
    @action(detail=False, methods=["get"])
    def current(self, request):
        return _ladder_response(queries.ladder())

    @extend_schema(
        summary="Create or replace the ladder",
        request=s.TierLadderInputSerializer,
        description="The whole ladder with its levels. Thresholds must rise strictly with the "
        "rank; errors name the level. Everyone is recalculated after the change.",
        responses={200: s.TierLadderSerializer, **ERRORS},
    )
    @current.mapping.put
    def replace_current(self, request):
        data = json_object(request, s.TierLadderInputSerializer)
        return _ladder_response(services.save_ladder(actor=request.user, data=data, partial=False))

    @extend_schema(
        summary="Change some of the ladder",
        request=s.TierLadderInputSerializer,
        description="Ladder fields; `levels`, if given, is the whole list.",
        responses={200: s.TierLadderSerializer, **ERRORS},
    )
    @current.mapping.patch
    def change_current(self, request):
        data = json_object(request, s.TierLadderInputSerializer)
        return _ladder_response(services.save_ladder(actor=request.user, data=data, partial=True))


class MemberTierCursor(Cursor):
    ordering = "-member_id"


@extend_schema_view(
    list=extend_schema(
        summary="Member tiers",
        description="Filter by member, level, store, or `downgrade_due=true` "
        "for members the downgrade policy is holding up.",
    ),
    retrieve=extend_schema(summary="A member's tier, by member id"),
)
class MemberTierListViewSet(ScopedReadOnlyViewSet):
    queryset = MemberTier.objects.filter(**LIVE).select_related("level", "earned_level", "floor_level")
    serializer_class = s.MemberTierSerializer
    filterset_class = MemberTierFilterSet
    scope_resource = "tiers"
    pagination_class = MemberTierCursor
    lookup_url_kwarg = "id"  # a member's tier is named by its member id, its primary key


@extend_schema_view(
    list=extend_schema(
        summary="Tier changes",
        description="Every move between levels and every floor set by hand, "
        "newest first; filter by member, reason or `since`.",
    ),
)
class TierChangeViewSet(ScopedReadOnlyViewSet):
    queryset = TierChange.objects.filter(**LIVE).select_related("changed_by")
    serializer_class = s.TierChangeSerializer
    filterset_class = TierChangeFilterSet
    scope_resource = "tiers"


class _MemberRoute(NestedScopedMixin):
    """Routes under /members/{member_id}/: the member comes from the scoped queryset (404 across stores)."""

    scope_resource = "tiers"
    parser_classes = [JSONParser]
    parent_queryset = Member.live.all()
    parent_kwarg = "member_id"
    parent_field = "member"
    parent_attr = "member"


@extend_schema_view(
    list=extend_schema(
        summary="A member's tier, with the next level and what it still takes",
        parameters=[MEMBER_ID],
        responses={200: s.MemberTierDetailSerializer, 404: ERRORS[404]},
    ),
)
class MemberTierViewSet(_MemberRoute, ScopedQuerysetMixin, viewsets.GenericViewSet):
    queryset = MemberTier.objects.select_related("level", "earned_level", "floor_level")
    serializer_class = s.MemberTierDetailSerializer
    pagination_class = None
    filterset_class = None
    list_answers_one = True  # GET /members/{member_id}/tier/ is the member's one tier

    def _tier(self) -> MemberTier:
        tier = self.get_queryset().filter(member=self.member).first()
        if tier is None:  # never ranked: answer the same shape, empty
            tier = MemberTier(member=self.member, qualifying_value=0, since=None, computed_at=None)
        return tier

    def list(self, request, *args, **kwargs):
        tier = self._tier()
        progress = queries.progress(tier if tier.pk else None, queries.levels())
        return Response(s.MemberTierDetailSerializer(tier, context={"progress": progress}).data)

    @extend_schema(
        summary="Set or clear the member's floor (minimum level)",
        parameters=[MEMBER_ID],
        request=s.FloorInputSerializer,
        responses={200: s.MemberTierDetailSerializer, **ERRORS},
        description="Operators, store managers of the member's store, or API keys with tier_floors:write. "
        "The member is recalculated at once; the floor is recorded in the tier history.",
    )
    @action(detail=False, methods=["post"], scope_resource="tier_floors")
    def floor(self, request, member_id=None):
        data = json_object(request, s.FloorInputSerializer)
        if "level" not in data:
            raise InvalidInput(details={"level": [_("Give a level id, or null to clear the floor.")]})
        services.set_floor(
            member=self.member, level_id=data.get("level"), reason=data.get("reason") or "", actor=request.user
        )
        return self.list(request)


@extend_schema_view(list=extend_schema(summary="A member's tier history, newest first", parameters=[MEMBER_ID]))
class MemberTierHistoryViewSet(_MemberRoute, ScopedQuerysetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = TierChange.objects.select_related("changed_by")
    serializer_class = s.TierChangeSerializer
    filterset_class = None
