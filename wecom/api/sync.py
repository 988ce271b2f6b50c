"""API of the contact syncs (under /api/v1/wecom/, scope `wecom`): sync runs (list, one, POST to
start one, which only operators and brand-wide keys may; a start while one of its kind is active
answers that run), a run's failures with their reasons in words, and the WeCom staff with their
links (a store-bound key sees its store's staff)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from scrm.api import fields as strict
from scrm.api.body import json_object
from scrm.api.idempotency import idempotent
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS
from scrm.api.viewsets import ScopedCreateListRetrieveViewSet, ScopedReadOnlyViewSet
from scrm.errors import Forbidden, InvalidInput
from wecom import queries
from wecom.filters import SyncFailureFilterSet, SyncRunFilterSet, WecomStaffFilterSet
from wecom.models import SyncFailure, SyncKind, SyncRun, WecomStaff
from wecom.services import staff as staff_services
from wecom.services import sync, sync_reasons


class SyncRunSerializer(serializers.ModelSerializer):
    pause_reason_text = serializers.SerializerMethodField()
    error_text = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = [
            "id", "kind", "status", "requested_by_label", "created_at", "started_at", "finished_at", "heartbeat_at",
            "resume_at", "pause_reason", "pause_reason_text", "attempts", "staff_total", "staff_done", "added",
            "updated", "unchanged", "removed", "failed", "skipped", "error_code", "error_text",
        ]

    def get_pause_reason_text(self, obj) -> str:
        return sync_reasons.pause_reason(obj.pause_reason)

    def get_error_text(self, obj) -> str:
        return sync_reasons.run_error(obj.error_code)


class SyncFailureSerializer(serializers.ModelSerializer):
    staff = serializers.SlugRelatedField(slug_field="userid", read_only=True)
    reason_text = serializers.SerializerMethodField()

    class Meta:
        model = SyncFailure
        fields = ["id", "staff", "external_userid", "reason", "reason_text", "detail", "created_at"]

    def get_reason_text(self, obj) -> str:
        return sync_reasons.failure(obj.reason)


class WecomStaffSerializer(serializers.ModelSerializer):
    account = serializers.SlugRelatedField(source="user", slug_field="username", read_only=True)
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    linked = serializers.SerializerMethodField()

    class Meta:
        model = WecomStaff
        fields = ["id", "userid", "name", "account", "store", "linked", "status", "follow_enabled", "first_seen_at",
                  "last_seen_at"]

    def get_linked(self, obj) -> bool:
        return obj.user_id is not None


class StartInputSerializer(serializers.Serializer):
    kind = strict.ChoiceField(
        choices=[SyncKind.CONTACTS, SyncKind.CONTACTS_INCREMENTAL],
        help_text="contacts (full) or contacts_incremental (changes only).",
    )


def _check(request) -> None:
    if not staff_services.can_manage_sync(request.user):
        raise Forbidden(_("Only operators and brand-wide keys manage the WeCom syncs."))


@extend_schema_view(
    list=extend_schema(summary="WeCom sync runs, newest first (filter by kind, status)"),
    retrieve=extend_schema(summary="One sync run with its counts"),
    create=extend_schema(
        summary="Start a contact sync; while one of that kind is active, answers it (200)",
        request=StartInputSerializer,
        responses={201: SyncRunSerializer, 200: SyncRunSerializer, **ERRORS},
    ),
)
class SyncRunViewSet(ScopedCreateListRetrieveViewSet):
    queryset = SyncRun.objects.order_by("-id")
    serializer_class = SyncRunSerializer
    filterset_class = SyncRunFilterSet
    scope_resource = "wecom"
    parser_classes = [JSONParser]

    @idempotent
    def create(self, request, *args, **kwargs):
        _check(request)  # reading a run's report needs the scope; starting one, a brand-wide caller
        data = json_object(request)
        kind = data.get("kind")
        if kind not in sync.CONTACT_KINDS:
            raise InvalidInput(details={"kind": [_("One of: %(choices)s.")
                                                 % {"choices": ", ".join(sync.CONTACT_KINDS)}]})
        result = sync.start_run(kind=kind, actor=request.user)
        return Response(SyncRunSerializer(queries.describe(result.run)).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(summary="A run's failures, with reasons in words", responses={200: SyncFailureSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def failures(self, request, pk=None):
        run = self.get_object()
        queryset = self.filter_queryset_for(
            SyncFailure.objects.filter(run=run).select_related("staff").order_by("-id")
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(SyncFailureSerializer(page, many=True).data)

    def filter_queryset_for(self, queryset):
        filterset = SyncFailureFilterSet(data=self.request.query_params, queryset=queryset, request=self.request)
        if not filterset.is_valid():
            raise InvalidInput(details=filterset.errors)
        return filterset.qs


@extend_schema_view(
    list=extend_schema(summary="WeCom staff with customer contact and their Siyu accounts"),
    retrieve=extend_schema(summary="One WeCom staff member"),
)
class WecomStaffViewSet(ScopedReadOnlyViewSet):
    queryset = WecomStaff.objects.select_related("user", "store").order_by("-id")
    serializer_class = WecomStaffSerializer
    filterset_class = WecomStaffFilterSet
    scope_resource = "wecom"


def register(router) -> None:
    router.register("wecom/sync-runs", SyncRunViewSet, basename="wecom-sync-run")
    router.register("wecom/staff", WecomStaffViewSet, basename="wecom-staff")
