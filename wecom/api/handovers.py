"""API: handovers (under /api/v1/wecom/): list, read and start handovers (with their customers' and
customer groups' counts by status), and page through a handover's customers and groups with their
statuses.
Store managers and store-bound keys reach their store's."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from scrm.api import fields as strict
from scrm.api.idempotency import idempotent
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS
from scrm.api.viewsets import ScopedCreateListRetrieveViewSet
from scrm.errors import InvalidInput
from wecom.handover_filters import HandoverFilterSet, HandoverItemFilterSet
from wecom.models import Handover, HandoverGroup, HandoverItem, HandoverKind, WecomStaff
from wecom.services import handover as service


class StaffRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = WecomStaff
        fields = ["id", "userid", "name"]


class HandoverSerializer(serializers.ModelSerializer):
    from_staff = StaffRefSerializer(read_only=True)
    to_staff = StaffRefSerializer(read_only=True)
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    counts = serializers.SerializerMethodField(help_text="Customers by status, and their total.")
    group_counts = serializers.SerializerMethodField(
        help_text="The leaver's customer groups by status (queued, done, limit, failed, cancelled), and their total.")

    class Meta:
        model = Handover
        fields = ["id", "kind", "status", "from_staff", "to_staff", "store", "message", "created_at",
                  "finished_at", "counts", "group_counts"]

    def get_counts(self, obj) -> dict[str, int]:
        counts = self.context.get("counts")
        if counts is not None and obj.pk in counts:
            return counts[obj.pk]
        return service.counts_for([obj.pk])[obj.pk]

    def get_group_counts(self, obj) -> dict[str, int]:
        counts = self.context.get("group_counts")
        if counts is not None and obj.pk in counts:
            return counts[obj.pk]
        return service.group_counts_for([obj.pk])[obj.pk]


class HandoverInputSerializer(serializers.Serializer):
    kind = strict.ChoiceField(choices=HandoverKind.choices)
    from_staff = strict.CharField(help_text="The leaving or moving staff member: id or WeCom userid.")
    to_staff = strict.CharField(help_text="The receiving staff member: id or WeCom userid.")
    external_userids = serializers.ListField(
        child=strict.CharField(max_length=64), required=False, allow_null=True, max_length=100_000,
        help_text="Only these customers; absent or null: every current customer of from_staff.",
    )
    message = strict.CharField(max_length=service.MESSAGE_MAX, required=False, allow_blank=True, default="",
                                    help_text="Sent by WeCom on success; on_job handovers only.")


class HandoverItemSerializer(serializers.ModelSerializer):
    external_userid = serializers.CharField(source="contact.external_userid", read_only=True)

    class Meta:
        model = HandoverItem
        fields = ["id", "external_userid", "status", "errcode", "sent_at", "updated_at"]


class HandoverGroupSerializer(serializers.ModelSerializer):
    chat_id = serializers.CharField(source="group.chat_id", read_only=True)
    name = serializers.CharField(source="group.name", read_only=True)

    class Meta:
        model = HandoverGroup
        fields = ["id", "chat_id", "name", "status", "errcode", "sent_at", "updated_at"]


@extend_schema_view(
    list=extend_schema(summary="Customer handovers (filter by status, kind, store)"),
    retrieve=extend_schema(summary="A handover with its counts by status"),
    create=extend_schema(
        summary="Hand a staff member's customers to another staff member",
        request=HandoverInputSerializer,
        responses={201: HandoverSerializer, **ERRORS},
    ),
    items=extend_schema(summary="A handover's customers and their statuses",
                        responses=HandoverItemSerializer(many=True)),
    groups=extend_schema(summary="A handover's customer groups and their statuses",
                         responses=HandoverGroupSerializer(many=True)),
)
class HandoverViewSet(ScopedCreateListRetrieveViewSet):
    queryset = Handover.objects.select_related("from_staff", "to_staff", "store").order_by("-id")
    serializer_class = HandoverSerializer
    filterset_class = HandoverFilterSet
    scope_resource = "wecom_handovers"
    parser_classes = [JSONParser]

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        ids = [h.pk for h in page]
        context = {"counts": service.counts_for(ids), "group_counts": service.group_counts_for(ids)}
        return self.get_paginated_response(HandoverSerializer(page, many=True, context=context).data)

    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = HandoverInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        handover = service.create_handover(actor=request.user, request=service.HandoverRequest(
            kind=data["kind"], from_staff=data["from_staff"], to_staff=data["to_staff"],
            external_userids=data.get("external_userids"), message=data.get("message", ""),
        ))
        return Response(HandoverSerializer(handover).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"], filterset_class=None)
    def items(self, request, pk=None):
        handover = self.get_object()
        items = HandoverItem.objects.visible_to(request.user).filter(handover=handover).select_related("contact")
        filters = HandoverItemFilterSet(request.GET, queryset=items)
        if not filters.is_valid():
            raise InvalidInput(details={k: [str(m) for m in v] for k, v in filters.errors.items()})
        items = filters.qs
        page = self.paginate_queryset(items)
        return self.get_paginated_response(HandoverItemSerializer(page, many=True).data)


    @action(detail=True, methods=["get"], filterset_class=None)
    def groups(self, request, pk=None):
        handover = self.get_object()
        rows = HandoverGroup.objects.visible_to(request.user).filter(handover=handover).select_related("group")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(HandoverGroupSerializer(page, many=True).data)


def register(router) -> None:
    router.register("wecom/handovers", HandoverViewSet, basename="wecom-handover")
