"""Referrals API: codes (get or make one for a member), who referred whom, commission rules
(operators write), commissions (list, mark paid in bulk). Views are thin: the services decide."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from loyalty.referrals import services
from loyalty.referrals.api import serializers as s
from loyalty.referrals.filters import (
    CommissionFilterSet,
    CommissionRuleFilterSet,
    ReferralCodeFilterSet,
    ReferralFilterSet,
)
from loyalty.referrals.models import Commission, CommissionRule, Referral, ReferralCode
from members.models import Member
from scrm.api.body import json_object
from scrm.api.idempotency import idempotent
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS, ErrorSerializer
from scrm.api.viewsets import (
    ScopedCreateListRetrieveViewSet,
    ScopedModelViewSet,
    ScopedReadOnlyViewSet,
)
from scrm.errors import InvalidInput, NotInScope


def _member(request, value, field="member") -> Member:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(details={field: [_("Expected a member id.")]})
    member = Member.live.visible_to(request.user).filter(pk=value).first()
    if member is None:
        raise NotInScope(details={field: [_("Unknown member %(id)s.") % {"id": value}]})
    return member


@extend_schema_view(
    list=extend_schema(summary="Referral codes (filter by member or code)"),
    retrieve=extend_schema(summary="A referral code"),
    create=extend_schema(
        summary="A member's code, made now if they have none",
        request=s.CodeInputSerializer,
        responses={200: s.ReferralCodeSerializer, 201: s.ReferralCodeSerializer, **ERRORS},
    ),
)
class ReferralCodeViewSet(ScopedCreateListRetrieveViewSet):
    queryset = ReferralCode.objects.order_by("-id")
    serializer_class = s.ReferralCodeSerializer
    filterset_class = ReferralCodeFilterSet
    scope_resource = "referrals"
    parser_classes = [JSONParser]

    def create(self, request, *args, **kwargs):
        member = _member(request, json_object(request, s.CodeInputSerializer).get("member"))
        code, created = services.ensure_code(member=member)
        return Response(s.ReferralCodeSerializer(code).data, status=201 if created else 200)


@extend_schema_view(
    list=extend_schema(summary="Who referred whom (filter by member or referrer)"),
    retrieve=extend_schema(summary="A referral"),
    create=extend_schema(
        summary="Record who referred a member",
        request=s.ReferralInputSerializer,
        description="Once per member; 409 when the member's referrer is already recorded.",
        responses={201: s.ReferralSerializer, 409: ErrorSerializer, **ERRORS},
    ),
)
class ReferralViewSet(ScopedCreateListRetrieveViewSet):
    queryset = Referral.objects.order_by("-id")
    serializer_class = s.ReferralSerializer
    filterset_class = ReferralFilterSet
    scope_resource = "referrals"
    parser_classes = [JSONParser]

    def create(self, request, *args, **kwargs):
        data = json_object(request, s.ReferralInputSerializer)
        member = _member(request, data.get("member"))
        if not isinstance(data.get("code"), str):
            raise InvalidInput(details={"code": [_("Expected the referrer's code.")]})
        referral = services.record_referral(member=member, code=data["code"], actor=request.user)
        return Response(s.ReferralSerializer(referral).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(responses={201: s.CommissionRuleSerializer, **ERRORS}),
    partial_update=extend_schema(responses={200: s.CommissionRuleSerializer, **ERRORS}),
)
class CommissionRuleViewSet(ScopedModelViewSet):
    """Brand-wide rules; store roles may read them, only operators (and keys with
    commission_rules:write) change them."""

    queryset = CommissionRule.objects.all()
    serializer_class = s.CommissionRuleSerializer
    filterset_class = CommissionRuleFilterSet
    scope_resource = "commission_rules"
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def create(self, request, *args, **kwargs):
        rule = services.create_rule(data=json_object(request, s.CommissionRuleSerializer), actor=request.user)
        return Response(s.CommissionRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        data = json_object(request, s.CommissionRuleSerializer)
        rule = services.update_rule(rule=self.get_object(), data=data, actor=request.user)
        return Response(s.CommissionRuleSerializer(rule).data)

    def perform_destroy(self, instance):
        services.delete_rule(rule=instance, actor=self.request.user)


@extend_schema_view(
    list=extend_schema(summary="Commissions (filter by status, referrer, referrer's store, dates)"),
    retrieve=extend_schema(summary="A commission, with why it is what it is"),
)
class CommissionViewSet(ScopedReadOnlyViewSet):
    queryset = Commission.objects.select_related("order")
    serializer_class = s.CommissionSerializer
    filterset_class = CommissionFilterSet
    scope_resource = "commissions"

    @extend_schema(
        summary="Mark payable commissions paid (all or none)",
        request=s.MarkPaidInputSerializer,
        responses={200: s.MarkPaidResultSerializer, **ERRORS},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="mark-paid",
        parser_classes=[JSONParser],
        filterset_class=None,
        pagination_class=None,
    )
    @idempotent
    def mark_paid(self, request):
        ids = json_object(request, s.MarkPaidInputSerializer).get("ids")
        n = services.mark_paid(commission_ids=ids, actor=request.user)
        return Response({"marked_paid": n})
