"""API: seasons with their own frequency caps, at /api/v1/send-policy/seasons/ beside the send policy
(every store reads them; operators and brand-wide keys write them)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response

from campaigns.api.policy import strict_body
from campaigns.models import Season
from campaigns.services import seasons as service
from scrm.api import fields as strict
from scrm.api.idempotency import idempotent
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS, FORBIDDEN
from scrm.api.serializers import StrictModelSerializer
from scrm.api.viewsets import ScopedModelViewSet


class SeasonSerializer(StrictModelSerializer):
    name = strict.CharField(max_length=60, help_text="Unique among seasons (case ignored).")
    start_month = strict.IntegerField(min_value=1, max_value=12)
    start_day = strict.IntegerField(min_value=1, max_value=31, help_text="A day the start month has (29 February "
                                                                         "is allowed: 1 March in other years).")
    end_month = strict.IntegerField(min_value=1, max_value=12)
    end_day = strict.IntegerField(min_value=1, max_value=31, help_text="Included. An end before the start wraps "
                                                                       "the year end (15 December to 6 January).")
    daily_cap = strict.IntegerField(min_value=0, max_value=service.MAX_CAP, required=False,
                                    help_text="Messages a member may get per calendar day in the season, 0 for no cap.")
    weekly_cap = strict.IntegerField(min_value=0, max_value=service.MAX_CAP, required=False,
                                     help_text="Per 7 calendar days ending that day, 0 for no cap.")
    monthly_cap = strict.IntegerField(min_value=0, max_value=service.MAX_CAP, required=False,
                                      help_text="Per 30 calendar days ending that day, 0 for no cap.")
    active_today = serializers.SerializerMethodField(
        help_text="Whether today (settings.TIME_ZONE) falls in it: its caps are the ones that hold now.")

    class Meta:
        model = Season
        fields = ["id", *service.FIELDS, "active_today", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_active_today(self, season) -> bool:
        return season.contains(timezone.localdate())


WRITE = "Operators and brand-wide keys; two seasons may not share a day (a 400 naming the other season)."


@extend_schema_view(
    list=extend_schema(summary="Seasons with their own frequency caps"),
    retrieve=extend_schema(summary="One season"),
    create=extend_schema(summary="Add a season (operators)", description=WRITE,
                         responses={201: SeasonSerializer, **ERRORS, 403: FORBIDDEN}),
    update=extend_schema(summary="Change a season (operators)", description=WRITE,
                         responses={200: SeasonSerializer, **ERRORS, 403: FORBIDDEN}),
    partial_update=extend_schema(summary="Change some fields of a season (operators)", description=WRITE,
                                 responses={200: SeasonSerializer, **ERRORS, 403: FORBIDDEN}),
    destroy=extend_schema(summary="Delete a season (operators): the policy's caps hold on its days again",
                          responses={204: None, 403: FORBIDDEN, 404: ERRORS[404]}),
)
class SeasonViewSet(ScopedModelViewSet):
    queryset = Season.objects.all()
    serializer_class = SeasonSerializer
    scope_resource = service.RESOURCE
    parser_classes = [JSONParser]
    filterset_class = None

    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = SeasonSerializer(data=strict_body(request, SeasonSerializer))
        serializer.is_valid(raise_exception=True)
        season = service.save_season(actor=request.user, values=dict(serializer.validated_data))
        return Response(SeasonSerializer(season).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        season = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = SeasonSerializer(season, data=strict_body(request, SeasonSerializer), partial=partial)
        serializer.is_valid(raise_exception=True)
        season = service.save_season(actor=request.user, values=dict(serializer.validated_data), season=season)
        return Response(SeasonSerializer(season).data)

    def destroy(self, request, *args, **kwargs):
        service.delete_season(actor=request.user, season=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def register(router) -> None:
    router.register("send-policy/seasons", SeasonViewSet, basename="send-policy-season")
