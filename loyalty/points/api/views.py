"""Points API: a member's points, the ledger and lots, redemptions (redeem, cancel), manual
adjustments, the rewards catalogue and the policy. Views parse, call one service and shape the
answer; service errors keep their status, code and details in the one error shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from loyalty.points import queries, services
from loyalty.points.api import serializers as s
from loyalty.points.filters import PointEntryFilterSet, PointLotFilterSet, RedemptionFilterSet, RewardFilterSet
from loyalty.points.models import PointEntry, PointLot, PointsPolicy, Redemption, Reward
from members.models import Member
from scrm.api.idempotency import idempotent
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS, ErrorSerializer, path_id
from scrm.api.viewsets import (
    NestedScopedMixin,
    ScopedCreateListRetrieveViewSet,
    ScopedModelViewSet,
    ScopedQuerysetMixin,
    ScopedReadOnlyViewSet,
)

REFUSED = {
    409: OpenApiResponse(
        ErrorSerializer,
        description="Refused by the current state: insufficient_points, "
        "out_of_stock, limit_reached, tier_too_low, reward_inactive, reward_not_in_window, "
        "already_cancelled, reward_in_use, points_disabled.",
    )
}
FORBIDDEN = {403: OpenApiResponse(ErrorSerializer, description="Only operators (or keys with the scope) may.")}
MEMBER_ID = path_id("member_id", "Member id.")


def _input(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema_view(
    list=extend_schema(
        summary="A member's points: balance, totals, what expires next, open lots and the latest entries",
        parameters=[MEMBER_ID],
        responses={200: s.MemberPointsSerializer, 404: ERRORS[404]},
    )
)
class MemberPointsViewSet(NestedScopedMixin, ScopedQuerysetMixin, viewsets.GenericViewSet):
    queryset = PointLot.objects.none()  # the member (scoped) is what this view reads
    serializer_class = s.MemberPointsSerializer
    scope_resource = "points"
    pagination_class = None
    list_answers_one = True  # GET /members/{member_id}/points/ is the member's one balance
    filterset_class = None
    parser_classes = [JSONParser]
    parent_queryset = Member.live.all()
    parent_kwarg = "member_id"
    parent_field = "member"
    parent_attr = "member"

    def list(self, request, *args, **kwargs):
        return Response(s.MemberPointsSerializer(queries.member_summary(self.member, entries=20)).data)


@extend_schema_view(
    list=extend_schema(summary="The points ledger (filter by member, kind, order, time)"),
    retrieve=extend_schema(summary="One ledger entry"),
)
class PointEntryViewSet(ScopedReadOnlyViewSet):
    queryset = PointEntry.objects.select_related("actor")
    serializer_class = s.PointEntrySerializer
    filterset_class = PointEntryFilterSet
    scope_resource = "points"
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Adjust a member's points by hand (operators)",
        request=s.AdjustInputSerializer,
        responses={201: s.PointEntrySerializer, **ERRORS, **FORBIDDEN, **REFUSED},
    )
    @action(detail=False, methods=["post"], scope_resource="point_adjustments", filterset_class=None)
    @idempotent
    def adjust(self, request):
        data = _input(s.AdjustInputSerializer, request)
        member = services.member_for(request.user, data["member"])
        entry = services.adjust_points(member=member, points=data["points"], reason=data["reason"], actor=request.user)
        return Response(s.PointEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Points lots (filter by member, source, points left, expiry)"),
    retrieve=extend_schema(summary="One points lot"),
)
class PointLotViewSet(ScopedReadOnlyViewSet):
    queryset = PointLot.objects.select_related("order")
    serializer_class = s.PointLotSerializer
    filterset_class = PointLotFilterSet
    scope_resource = "points"


@extend_schema_view(
    list=extend_schema(summary="Redemptions (filter by member, reward, status)"),
    retrieve=extend_schema(summary="One redemption"),
    create=extend_schema(
        summary="Redeem a reward for a member",
        request=s.RedeemInputSerializer,
        description="Spends the points soonest to expire first and takes one from the reward's "
        "stock; nothing changes when refused.",
        responses={201: s.RedemptionSerializer, **ERRORS, **REFUSED},
    ),
)
class RedemptionViewSet(ScopedCreateListRetrieveViewSet):
    queryset = Redemption.objects.select_related("reward", "store")
    serializer_class = s.RedemptionSerializer
    filterset_class = RedemptionFilterSet
    scope_resource = "points"
    parser_classes = [JSONParser]

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _input(s.RedeemInputSerializer, request)
        member = services.member_for(request.user, data["member"])
        redemption = services.redeem(
            member=member, reward=services.reward_for(data["reward"]), actor=request.user, note=data.get("note", "")
        )
        return Response(s.RedemptionSerializer(redemption).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a redemption: points back to their lots, the reward back to stock",
        request=s.CancelInputSerializer,
        responses={200: s.RedemptionSerializer, **ERRORS, **REFUSED},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def cancel(self, request, pk=None):
        data = _input(s.CancelInputSerializer, request)
        redemption = services.cancel_redemption(
            redemption=self.get_object(), actor=request.user, reason=data.get("reason", "")
        )
        return Response(s.RedemptionSerializer(redemption).data)


@extend_schema_view(
    list=extend_schema(summary="The rewards catalogue"),
    retrieve=extend_schema(summary="One reward"),
    create=extend_schema(
        summary="Add a reward (operators)", responses={201: s.RewardSerializer, **ERRORS, **FORBIDDEN}
    ),
    update=extend_schema(summary="Change a reward (operators)", responses={200: s.RewardSerializer, **ERRORS}),
    partial_update=extend_schema(
        summary="Change some fields of a reward (operators)", responses={200: s.RewardSerializer, **ERRORS}
    ),
    destroy=extend_schema(
        summary="Delete a reward never redeemed (operators); otherwise make it inactive",
        responses={204: None, **REFUSED},
    ),
)
class RewardViewSet(ScopedModelViewSet):
    queryset = Reward.objects.all()
    serializer_class = s.RewardSerializer
    filterset_class = RewardFilterSet
    scope_resource = "rewards"
    parser_classes = [JSONParser]

    def create(self, request, *args, **kwargs):
        data = _input(s.RewardSerializer, request)
        reward = services.save_reward(actor=request.user, values=dict(data))
        return Response(s.RewardSerializer(reward).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        reward = self.get_object()
        serializer = s.RewardSerializer(reward, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        reward = services.save_reward(actor=request.user, values=dict(serializer.validated_data), reward=reward)
        return Response(s.RewardSerializer(reward).data)

    def destroy(self, request, *args, **kwargs):
        services.delete_reward(actor=request.user, reward=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class PointsPolicyViewSet(ScopedQuerysetMixin, viewsets.GenericViewSet):
    """The programme's one policy, at /points-policy/current/ (its only address: GET, PATCH)."""

    queryset = PointsPolicy.objects.all()
    serializer_class = s.PolicySerializer
    scope_resource = "rewards"  # the programme's configuration goes with its catalogue
    parser_classes = [JSONParser]
    pagination_class = None
    filterset_class = None

    @extend_schema(summary="The points policy", responses={200: s.PolicySerializer})
    @action(detail=False, methods=["get"])
    def current(self, request):
        return Response(s.PolicySerializer(PointsPolicy.current()).data)

    @extend_schema(
        summary="Change the points policy (operators)",
        description="Fields left out keep their values; all are checked before anything changes.",
        request=s.PolicySerializer,
        responses={200: s.PolicySerializer, **ERRORS, **FORBIDDEN},
    )
    @current.mapping.patch
    def change_current(self, request):
        serializer = s.PolicySerializer(PointsPolicy.current(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        policy = services.update_policy(actor=request.user, values=dict(serializer.validated_data))
        return Response(s.PolicySerializer(policy).data)
