"""API of the contact syncs (under /api/v1/wecom/, scope `wecom`). Sync runs are brand-wide
operations, for operators and brand-wide keys only (a store-bound key is refused, 403): the runs
(list, one, POST to start one; a start while one of its kind is active answers that run), POST
.../cancel/ to stop an active one (a 409 once it has ended) and a run's failures with their reasons
in words. The WeCom staff list with their links is scoped: a store-bound key sees its store's staff."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from scrm.api import fields as strict
from scrm.api.body import json_object
from scrm.api.idempotency import idempotent
from scrm.api.parsers import JSONParser
from scrm.api.schema import CONFLICT, ERRORS
from scrm.api.viewsets import ScopedCreateListRetrieveViewSet, ScopedReadOnlyViewSet
from scrm.errors import Conflict, Forbidden, InvalidInput
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
        choices=[SyncKind.CONTACTS, SyncKind.CONTACTS_INCREMENTAL, SyncKind.GROUPS],
        help_text="contacts (full), contacts_incremental (changes only) or groups (customer groups).",
    )


SYNC_RUNS_ARE_BRAND_WIDE = gettext_lazy(
    "WeCom sync runs are brand-wide operations: only operators and brand-wide API keys read, start or cancel "
    "them, never a key bound to one store."
)


def _check(request) -> None:
    if not staff_services.can_manage_sync(request.user):
        raise Forbidden(SYNC_RUNS_ARE_BRAND_WIDE)


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

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        _check(request)  # after the scope check: every route here is the brand's, none a store's

    @idempotent
    def create(self, request, *args, **kwargs):
        data = json_object(request)
        kind = data.get("kind")
        if kind not in sync.RUN_KINDS:
            raise InvalidInput(details={"kind": [_("One of: %(choices)s.")
                                                 % {"choices": ", ".join(sync.RUN_KINDS)}]})
        result = sync.start_run(kind=kind, actor=request.user)
        return Response(SyncRunSerializer(queries.describe(result.run)).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(
        summary="Cancel an active run (a running one stops before its next page); 409 once it has ended",
        request=None,
        responses={200: SyncRunSerializer, 409: CONFLICT, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        # repeating it is safe: only an active run changes, and an ended one is answered a 409
        run = self.get_object()
        if not sync.cancel_run(run_id=run.pk, actor=request.user):
            run.refresh_from_db()
            raise Conflict(_("This sync run had already ended (%(status)s); nothing was cancelled.")
                           % {"status": run.get_status_display()}, code="run_ended")
        run.refresh_from_db()
        return Response(SyncRunSerializer(queries.describe(run)).data)

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
