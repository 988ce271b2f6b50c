"""API: WeCom callback events (under /api/v1/wecom/events/, scope `wecom`: operators and brand-wide
keys), newest first, cursor-paged, filtered like the events page. An event's fields show WeCom's ids
and codes; any other field is named with its value withheld."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from scrm.api.viewsets import ScopedReadOnlyViewSet
from scrm.errors import Forbidden
from wecom.event_filters import CallbackEventFilterSet
from wecom.models import CallbackEvent
from wecom.services import events as service
from wecom.services.connection import can_manage_wecom


class CallbackEventSerializer(serializers.ModelSerializer):
    fields_shown = serializers.SerializerMethodField(
        help_text='The event\'s fields by name; values other than WeCom\'s ids and codes are "…".'
    )

    class Meta:
        model = CallbackEvent
        fields = ["id", "event", "change_type", "status", "received_at", "created_at_wecom", "attempts",
                  "processed_at", "error", "fields_shown"]

    def get_fields_shown(self, obj) -> dict[str, str]:
        return dict(service.shown_fields(obj))


@extend_schema_view(
    list=extend_schema(summary="WeCom callback events, newest first (filter by event, change type, status, date)"),
    retrieve=extend_schema(summary="One WeCom callback event"),
)
class CallbackEventViewSet(ScopedReadOnlyViewSet):
    queryset = CallbackEvent.objects.order_by("-id")
    serializer_class = CallbackEventSerializer
    filterset_class = CallbackEventFilterSet
    scope_resource = "wecom"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not can_manage_wecom(request.user):
            raise Forbidden(_("Only operators and brand-wide keys see the WeCom events."))


def register(router) -> None:
    router.register("wecom/events", CallbackEventViewSet, basename="wecom-event")
