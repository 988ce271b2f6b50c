"""API: campaigns (create, list, read; approve, send, pause, resume, cancel), each campaign's
deliveries, and the outbox channel's messages. Store managers and store-bound keys reach their
store's campaigns only; store staff write drafts but cannot approve or send."""

from __future__ import annotations

import dataclasses

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns import queries
from campaigns.api import editing
from campaigns.api import results as results_api
from campaigns.api.serializers import (
    CampaignCancelSerializer,
    CampaignDetailSerializer,
    CampaignInputSerializer,
    CampaignSerializer,
    DeliverySerializer,
    OutboxMessageSerializer,
    SendInputSerializer,
)
from campaigns.filters import CampaignFilterSet, DeliveryFilterSet, OutboxFilterSet
from campaigns.models import Campaign, Delivery, OutboxMessage
from campaigns.services import campaigns as service
from scrm.api.idempotency import idempotent
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS
from scrm.api.viewsets import ScopedCreateListRetrieveViewSet, ScopedReadOnlyViewSet
from scrm.errors import InvalidInput
from scrm.models import Store

ACTION = extend_schema(request=None, responses={200: CampaignDetailSerializer, **ERRORS})


@extend_schema_view(
    list=extend_schema(summary="Campaigns (filter by status, store), with their counts by state"),
    retrieve=extend_schema(summary="A campaign with its counts by state and by reason",
                           responses=CampaignDetailSerializer),
    create=extend_schema(summary="Write a campaign (a draft): a segment, a channel, the text and a schedule",
                         request=CampaignInputSerializer, responses={201: CampaignDetailSerializer, **ERRORS}),
    partial_update=extend_schema(
        summary="Edit a draft or an approved campaign (an approved one goes back to draft and must be approved "
                "again); checked as a new campaign is; 409 in any other status",
        request=editing.CampaignPatchSerializer, responses={200: CampaignDetailSerializer, **ERRORS}),
    approve=extend_schema(summary="Approve a draft (not store staff)", request=None,
                          responses={200: CampaignDetailSerializer, **ERRORS}),
    send=extend_schema(summary="Send an approved campaign now or at a time: fans out to its segment's members",
                       request=SendInputSerializer, responses={200: CampaignDetailSerializer, **ERRORS}),
    pause=extend_schema(summary="Pause sending", request=None, responses={200: CampaignDetailSerializer, **ERRORS}),
    resume=extend_schema(summary="Resume a paused campaign", request=None,
                         responses={200: CampaignDetailSerializer, **ERRORS}),
    cancel=extend_schema(summary="Cancel: its pending deliveries are suppressed as cancelled; a series also cancels "
                                 "its runs not finished (a run already sending stops: what it has not sent is "
                                 "recorded as cancelled), and the answer says how many runs and deliveries it "
                                 "stopped", request=None,
                         responses={200: CampaignCancelSerializer, **ERRORS}),
    deliveries=extend_schema(summary="A campaign's deliveries (filter by member, state, reason), by member",
                             responses=DeliverySerializer(many=True)),
    results=extend_schema(summary="A campaign's results: its funnel by store and staff, link clicks, attributed "
                                  "orders (last touch) and the holdout uplift",
                          responses={200: results_api.ResultsSerializer, **ERRORS}),
)
class CampaignViewSet(ScopedCreateListRetrieveViewSet):
    queryset = Campaign.objects.select_related("store").order_by("-id")
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilterSet
    scope_resource = "campaigns"
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def _detail(self, campaign, code=status.HTTP_200_OK):
        context = {"counts": queries.counts_by_state([campaign.pk]), "reasons": queries.counts_by_reason(campaign.pk)}
        return Response(CampaignDetailSerializer(campaign, context=context).data, status=code)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        counts = queries.counts_by_state([c.pk for c in page])
        return self.get_paginated_response(CampaignSerializer(page, many=True, context={"counts": counts}).data)

    def retrieve(self, request, *args, **kwargs):
        return self._detail(self.get_object())

    def create(self, request, *args, **kwargs):
        serializer = CampaignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        store = None
        if data.get("store"):
            store = Store.objects.filter(code=data["store"]).first()
            if store is None:
                raise InvalidInput(details={"store": ["No such store."]})
        campaign = service.create_campaign(actor=request.user, data=service.CampaignInput(
            name=data["name"], segment_id=data["segment"], channel=data["channel"], content=data["content"],
            scheduled_at=data.get("scheduled_at"), holdout_share=data["holdout_share"], store=store,
            recurrence=editing.rule_of(data.get("recurrence")), attachments=data.get("attachments") or [],
        ))
        return self._detail(campaign, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        body = editing.CampaignPatchSerializer(data=request.data, partial=True)  # a JSON null body is refused
        body.is_valid(raise_exception=True)
        campaign, _cleared = service.update_campaign(campaign=self.get_object(), actor=request.user,
                                                     changes=editing.changes_of(body.validated_data))
        return self._detail(campaign)

    @action(detail=True, methods=["post"], filterset_class=None)
    def approve(self, request, pk=None):
        return self._detail(service.approve(campaign=self.get_object(), actor=request.user))

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def send(self, request, pk=None):
        serializer = SendInputSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        campaign = service.send(campaign=self.get_object(), actor=request.user,
                                scheduled_at=serializer.validated_data.get("scheduled_at"))
        return self._detail(campaign)

    @action(detail=True, methods=["post"], filterset_class=None)
    def pause(self, request, pk=None):
        return self._detail(service.pause(campaign=self.get_object(), actor=request.user))

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def resume(self, request, pk=None):
        return self._detail(service.resume(campaign=self.get_object(), actor=request.user))

    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request, pk=None):
        campaign, stopped = service.cancel_counted(campaign=self.get_object(), actor=request.user)
        context = {"counts": queries.counts_by_state([campaign.pk]), "reasons": queries.counts_by_reason(campaign.pk),
                   "stopped": dataclasses.asdict(stopped)}
        return Response(CampaignCancelSerializer(campaign, context=context).data)

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=cursor_ordered_by("member_id"))
    def deliveries(self, request, pk=None):
        campaign = self.get_object()
        rows = Delivery.objects.visible_to(request.user).filter(campaign=campaign)
        filters = DeliveryFilterSet(request.GET, queryset=rows)
        if not filters.is_valid():
            raise InvalidInput(details={k: [str(m) for m in v] for k, v in filters.errors.items()})
        page = self.paginate_queryset(filters.qs)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def results(self, request, pk=None):
        return Response(results_api.answer(self.get_object(), request.user))


@extend_schema_view(
    list=extend_schema(summary="Messages the built-in outbox channel sent (filter by campaign, member)"),
    retrieve=extend_schema(summary="One outbox message"),
)
class OutboxViewSet(ScopedReadOnlyViewSet):
    queryset = OutboxMessage.objects.order_by("-id")
    serializer_class = OutboxMessageSerializer
    filterset_class = OutboxFilterSet
    scope_resource = "campaigns"
