"""Orders API: list (filters, cursor pages), detail with lines and refunds, record one order (201 new,
200 when the order number was already recorded), record a batch, refunds, the attribution policy.
Views stay thin: the services check and write; their errors keep the one error shape."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from loyalty.orders import queries, services
from loyalty.orders.api import serializers as s
from loyalty.orders.filters import OrderFilterSet
from loyalty.orders.models import AttributionPolicy, Order
from scrm.api.body import json_object
from scrm.api.idempotency import idempotent
from scrm.api.parsers import JSONParser
from scrm.api.schema import CONFLICT, ERRORS
from scrm.api.viewsets import ScopedCreateListRetrieveViewSet
from scrm.errors import Forbidden, InvalidInput


@extend_schema_view(
    list=extend_schema(
        summary="List orders",
        description="Newest first by id, cursor pages. Store roles and "
        "store-bound keys see their store's orders only. `q` is an order number or a member's phone.",
    ),
    retrieve=extend_schema(
        summary="An order with its lines and refunds", responses={200: s.OrderDetailSerializer, 404: ERRORS[404]}
    ),
    create=extend_schema(
        summary="Record an order",
        request=s.OrderInputSerializer,
        description="Idempotent by (channel, external_id): an order number already recorded with the same "
        "content is answered with that order (200), never recorded twice; with other content (amount, currency, "
        "time, store, lines, buyer, member, referral code) it is a 409 `order_conflict` whose details name each "
        "field that differs, and nothing changes. The buyer is found by member_id, buyer identity or phone; "
        "none found keeps the order as a pending buyer, linked when the member appears.",
        responses={201: s.OrderDetailSerializer, 200: s.OrderDetailSerializer, **ERRORS, 409: CONFLICT},
    ),
)
class OrderViewSet(ScopedCreateListRetrieveViewSet):
    queryset = queries.with_member_home(Order.objects.select_related("store"))
    serializer_class = s.OrderSerializer
    filterset_class = OrderFilterSet
    scope_resource = "orders"
    parser_classes = [JSONParser]
    lookup_value_regex = r"[0-9]+"  # orders/imports/ is a route of its own

    def _detail(self, order_id: int) -> dict:
        order = queries.order_detail(Order.objects.all()).get(pk=order_id)
        return s.OrderDetailSerializer(order, context={"request": self.request}).data

    def retrieve(self, request, *args, **kwargs):
        return Response(self._detail(self.get_object().pk))

    @idempotent
    def create(self, request, *args, **kwargs):
        order, created = services.record_order(data=json_object(request, s.OrderInputSerializer), actor=request.user)
        return Response(self._detail(order.pk), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary=f"Record up to {services.MAX_BATCH} orders",
        request=s.OrderBatchInputSerializer,
        description="One result per item, in order: created, existing (the order number was already recorded "
        "with the same content, earlier or earlier in this batch: `id` is that order), conflict (the number "
        "was recorded with other content: `errors` name the fields that differ) or invalid (with `errors` by "
        "field). With `atomic: true` any refused item means nothing is recorded: a 400 naming each item, or a "
        "409 `order_conflict` when every refused item is a conflict.",
        responses={200: s.OrderBatchResponseSerializer, **ERRORS, 409: CONFLICT},
    )
    @action(detail=False, methods=["post"])
    @idempotent
    def batch(self, request):
        body = json_object(request, s.OrderBatchInputSerializer, nested=False)
        atomic = body.get("atomic", False)
        if not isinstance(atomic, bool):
            raise InvalidInput(details={"atomic": [_("Expected true or false.")]})
        result = services.record_orders(items=body.get("items"), actor=request.user, atomic=atomic)
        rows = [
            {
                "index": r.index,
                "status": "created" if r.created else "existing",
                "id": r.order_id,
                "member": r.member_id,
            }
            for r in result.results
        ]
        rows += [
            {
                "index": i,
                "status": "conflict" if i in result.conflicts else "invalid",
                "id": None,
                "member": None,
                "errors": e,
            }
            for i, e in result.errors.items()
        ]
        rows.sort(key=lambda row: row["index"])
        return Response(
            {
                "created": result.created,
                "existing": len(result.results) - result.created,
                "conflict": len(result.conflicts),
                "invalid": len(result.errors) - len(result.conflicts),
                "results": rows,
            }
        )

    @extend_schema(
        summary="Refund an order, whole or in part",
        request=s.OrderRefundInputSerializer,
        description="Idempotent by (order, external_id): a refund number already recorded answers 200 with that "
        "refund (409 refund_number_taken if its amount differs). More than what remains refundable on the order "
        "(or the line) is a 400 and nothing changes.",
        responses={
            201: s.OrderRefundResponseSerializer,
            200: s.OrderRefundResponseSerializer,
            409: ERRORS[400],
            **ERRORS,
        },
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def refunds(self, request, pk=None):
        order = self.get_object()
        body = json_object(request, s.OrderRefundInputSerializer)
        refund, created = services.record_refund(
            order=order,
            external_id=body.get("external_id"),
            amount=body.get("amount"),
            line=body.get("line"),
            reason=body.get("reason", ""),
            refunded_at=body.get("refunded_at"),
            actor=request.user,
        )
        data = {"created": created, "refund": s.OrderRefundSerializer(refund).data, "order": self._detail(order.pk)}
        return Response(data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        methods=["GET"],
        summary="How orders are credited to guides (operators)",
        responses={200: s.AttributionPolicySerializer, 403: ERRORS[400]},
    )
    @extend_schema(
        methods=["PUT"],
        summary="Set how orders are credited to guides (operators)",
        request=s.AttributionPolicySerializer,
        responses={200: s.AttributionPolicySerializer, 403: ERRORS[400], **ERRORS},
    )
    @action(
        detail=False, methods=["get", "put"], url_path="attribution-policy", pagination_class=None, filterset_class=None
    )
    def attribution_policy(self, request):
        if request.method == "PUT":
            body = json_object(request, s.AttributionPolicySerializer)
            policy = services.set_attribution_policy(
                rule=body.get("rule"), window_days=body.get("window_days"), actor=request.user
            )
        else:
            if not services.can_manage_attribution(request.user):
                raise Forbidden(_("Only operators see how orders are credited."))
            policy = AttributionPolicy.current()
        return Response(s.AttributionPolicySerializer(policy).data)
