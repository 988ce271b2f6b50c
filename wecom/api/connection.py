"""API: the connection's health (under /api/v1/wecom/), scope `wecom` (operators and brand-wide keys)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from scrm.api.schema import FORBIDDEN
from scrm.api.viewsets import ScopedViewSet
from wecom.services import connection


class SettingsPresentSerializer(serializers.Serializer):
    WECOM_CORP_ID = serializers.BooleanField()
    WECOM_SECRET = serializers.BooleanField()
    WECOM_TOKEN = serializers.BooleanField()
    WECOM_AES_KEY = serializers.BooleanField()
    WECOM_AGENT_ID = serializers.BooleanField()


class ConnectionSerializer(serializers.Serializer):
    mode = serializers.CharField(help_text='"local" (the local WeCom server), "corp" (the real corp) or "".')
    mode_label = serializers.CharField()
    corp_id = serializers.CharField()
    api_base = serializers.CharField()
    settings = SettingsPresentSerializer(help_text="Whether each setting is present (never its value).")
    token_fetched_at = serializers.DateTimeField(allow_null=True)
    last_ok_at = serializers.DateTimeField(allow_null=True)
    last_error_at = serializers.DateTimeField(allow_null=True)
    last_errcode = serializers.IntegerField(allow_null=True)
    last_error_meaning = serializers.CharField()
    last_error_path = serializers.CharField()
    rate_limited_until = serializers.DateTimeField(allow_null=True)
    last_callback_at = serializers.DateTimeField(allow_null=True)
    callback_url = serializers.CharField(help_text="The callback URL to paste into the WeCom console.")


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    staff = serializers.IntegerField(allow_null=True, help_text="Staff members with customer contact enabled.")
    errcode = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()
    elapsed_ms = serializers.IntegerField()


class ConnectionViewSet(ScopedViewSet):
    scope_resource = "wecom"
    list_answers_one = True

    @extend_schema(
        summary="The WeCom connection's settings and health",
        responses={200: ConnectionSerializer, 403: FORBIDDEN},
    )
    def list(self, request):
        state = connection.health(actor=self.actor)
        state["callback_url"] = request.build_absolute_uri(state.pop("callback_path"))
        return Response(ConnectionSerializer(state).data)

    @extend_schema(
        summary="Test the connection: a fresh token and the staff list",
        request=None,
        responses={200: ConnectionTestSerializer, 403: FORBIDDEN},
    )
    @action(detail=False, methods=["post"], url_path="test")
    def test(self, request):
        return Response(ConnectionTestSerializer(connection.test_connection(actor=self.actor)).data)


def register(router) -> None:
    router.register("wecom/connection", ConnectionViewSet, basename="wecom-connection")
