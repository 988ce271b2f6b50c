"""API: WeCom customer groups (under /api/v1/wecom/groups/), read-only, and a group's members
(/api/v1/wecom/groups/{group_id}/members/). Store roles see the groups of their store (the owner's
store when last synced)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import path_id
from scrm.api.viewsets import NestedScopedMixin, ScopedQuerysetMixin, ScopedReadOnlyViewSet
from wecom.filters import CustomerGroupFilterSet, CustomerGroupMemberFilterSet
from wecom.models import CustomerGroup, CustomerGroupMember

GROUP_ID = path_id("group_id", "Customer group id.")


class CustomerGroupSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner_userid", read_only=True, help_text="The owner's WeCom userid.")
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    dismissed = serializers.SerializerMethodField(help_text="Dismissed in WeCom (kept with its members).")

    class Meta:
        model = CustomerGroup
        fields = ["id", "chat_id", "name", "owner", "store", "created_at_wecom", "notice", "member_count",
                  "customer_count", "status", "dismissed", "dismissed_at", "synced_at"]
        read_only_fields = fields

    def get_dismissed(self, obj) -> bool:
        return obj.dismissed_at is not None


class CustomerGroupMemberSerializer(serializers.ModelSerializer):
    staff = serializers.SlugRelatedField(slug_field="userid", read_only=True)

    class Meta:
        model = CustomerGroupMember
        fields = ["id", "userid", "kind", "member", "staff", "name", "joined_at", "join_scene", "invitor", "left_at"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="WeCom customer groups (filter by store, owner, status, dismissed, name)"),
    retrieve=extend_schema(summary="One customer group with its counts"),
)
class CustomerGroupViewSet(ScopedReadOnlyViewSet):
    queryset = CustomerGroup.objects.select_related("store").order_by("id")
    serializer_class = CustomerGroupSerializer
    filterset_class = CustomerGroupFilterSet
    pagination_class = cursor_ordered_by("id")
    scope_resource = "wecom_groups"
    parser_classes = [JSONParser]


@extend_schema_view(
    list=extend_schema(summary="A customer group's members: customers (with their member when known) and staff; "
                               "those who left keep left_at", parameters=[GROUP_ID]),
)
class CustomerGroupMemberViewSet(NestedScopedMixin, ScopedQuerysetMixin, mixins.ListModelMixin,
                                 viewsets.GenericViewSet):
    queryset = CustomerGroupMember.objects.select_related("staff").order_by("id")
    serializer_class = CustomerGroupMemberSerializer
    filterset_class = CustomerGroupMemberFilterSet
    pagination_class = cursor_ordered_by("id")
    scope_resource = "wecom_groups"
    parser_classes = [JSONParser]
    parent_queryset = CustomerGroup.objects.all()
    parent_kwarg = "group_id"
    parent_field = "group"
    parent_attr = "group"


def register(router) -> None:
    router.register("wecom/groups", CustomerGroupViewSet, basename="wecom-group")
    router.register(r"wecom/groups/(?P<group_id>[0-9]+)/members", CustomerGroupMemberViewSet,
                    basename="wecom-group-member")
