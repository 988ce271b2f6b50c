"""API: the brand's send policy at /api/v1/send-policy/current/ (GET for every store, PATCH for
operators and brand-wide keys)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns.models import SendPolicy, WecomLimit
from campaigns.services import policy as service
from scrm.api import fields as strict
from scrm.api.body import json_object
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS, FORBIDDEN
from scrm.api.serializers import StrictModelSerializer
from scrm.api.viewsets import ScopedQuerysetMixin
from scrm.errors import InvalidInput


def strict_body(request, serializer_class) -> dict:
    """The request's JSON object held to `serializer_class`, with any field it does not write refused
    by name (a misspelt cap must not pass as "no change")."""
    data = json_object(request, serializer_class)
    writable = {name for name, f in serializer_class().fields.items() if not f.read_only}
    unknown = sorted(set(data) - writable)
    if unknown:
        raise InvalidInput(details={name: [_("Unknown field; known fields: %(known)s.") % {
            "known": ", ".join(sorted(writable))}] for name in unknown})
    return data


class LocalTimeField(strict.RegexField):
    """A time of day in settings.TIME_ZONE as text, HH:MM (no offset: quiet hours follow the clock)."""

    def __init__(self, **kwargs):
        super().__init__(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", max_length=5, **kwargs)

    def run_validation(self, data=serializers.empty):
        text = super().run_validation(data)  # checked as text (pattern, length), then read
        return None if text is None else dt.datetime.strptime(text, "%H:%M").time()

    def to_representation(self, value):
        return value.strftime("%H:%M")


class SendPolicySerializer(StrictModelSerializer):
    daily_cap = strict.IntegerField(min_value=0, max_value=1000, required=False,
                                    help_text="Messages a member may get per calendar day, 0 for no cap.")
    weekly_cap = strict.IntegerField(min_value=0, max_value=1000, required=False,
                                     help_text="Per 7 calendar days ending today, 0 for no cap.")
    monthly_cap = strict.IntegerField(min_value=0, max_value=1000, required=False,
                                      help_text="Per 30 calendar days ending today, 0 for no cap.")
    max_attempts = strict.IntegerField(min_value=1, max_value=service.MAX_ATTEMPTS, required=False)
    # Local wall-clock times, written HH:MM: OpenAPI's "time" format wants an offset they do not have.
    quiet_start = LocalTimeField(required=False, allow_null=True, help_text="Start of quiet hours, HH:MM, or null.")
    quiet_end = LocalTimeField(required=False, allow_null=True, help_text="End of quiet hours, HH:MM, or null.")
    wecom_limit = strict.ChoiceField(
        choices=WecomLimit.choices, required=False,
        help_text="WeCom's own limit of mass messages per customer, applied to WeCom sends as an extra cap counted "
                  "over WeCom sends only (suppressed as wecom_limit): off, month_days (as many per calendar month "
                  "as it has days, WeCom's default), week_7, day_1, month_4 (WeCom's older rule).")

    class Meta:
        model = SendPolicy
        fields = [*service.FIELDS, "updated_at"]
        read_only_fields = ["updated_at"]


class SendPolicyViewSet(ScopedQuerysetMixin, viewsets.GenericViewSet):
    """The brand's one send policy, at /send-policy/current/ (its only address: GET, PATCH)."""

    queryset = SendPolicy.objects.all()
    serializer_class = SendPolicySerializer
    scope_resource = service.RESOURCE
    parser_classes = [JSONParser]
    pagination_class = None
    filterset_class = None

    @extend_schema(summary="The send policy: frequency caps, quiet hours, attempts",
                   responses={200: SendPolicySerializer})
    @action(detail=False, methods=["get"])
    def current(self, request):
        return Response(SendPolicySerializer(service.current()).data)

    @extend_schema(
        summary="Change the send policy (operators and brand-wide keys)",
        description="Fields left out keep their values; all are checked before anything changes. Quiet hours "
                    "(local time, settings.TIME_ZONE) may run past midnight, e.g. 22:00 to 08:00.",
        request=SendPolicySerializer,
        responses={200: SendPolicySerializer, **ERRORS, 403: FORBIDDEN},
    )
    @current.mapping.patch
    def change_current(self, request):
        serializer = SendPolicySerializer(service.current(), data=strict_body(request, SendPolicySerializer),
                                          partial=True)
        serializer.is_valid(raise_exception=True)
        policy = service.update_policy(actor=request.user, values=dict(serializer.validated_data))
        return Response(SendPolicySerializer(policy).data)


def register(router) -> None:
    router.register("send-policy", SendPolicyViewSet, basename="send-policy")
