"""API: campaigns to WeCom customer groups (channel wecom_group) under /api/v1/group-campaigns/: write
one (a draft: chosen groups, every group of chosen owners, every group of a store), list and read
them with their audience and group deliveries counted by state, and approve, send, pause, resume
and cancel them as /api/v1/campaigns/ does (the same lifecycle services; send and resume take an
Idempotency-Key). A store manager's account or store-bound key writes to its store's groups only.
Each group's row is at /api/v1/campaigns/{campaign_id}/group-deliveries/."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns.api.editing import StrictBody
from campaigns.api.group_messages import COUNTS
from campaigns.models import Campaign, CampaignStatus, GroupAudience
from campaigns.services import campaigns as lifecycle
from campaigns.services import group_messages as service
from scrm.api import fields as strict
from scrm.api.idempotency import idempotent
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS
from scrm.api.viewsets import ScopedCreateListRetrieveViewSet
from scrm.errors import InvalidInput
from scrm.filters import StoreFilter
from scrm.models import Store
from wecom.models import WecomStaff

MAX_LISTED = 2000  # groups (and owners) named in one body: one owner's task takes 2,000 chats


class GroupCampaignFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CampaignStatus.choices, label=gettext_lazy("Status"))
    store = StoreFilter(field_name="store", label=gettext_lazy("Store"))

    class Meta:
        model = Campaign
        fields = ["status", "store"]


class AudienceSerializer(serializers.Serializer):
    groups = serializers.ListField(child=serializers.IntegerField(), help_text="The chosen customer groups' ids.")
    owners = serializers.ListField(child=serializers.CharField(),
                                   help_text="WeCom userids of the owners whose every group receives it.")
    store = serializers.CharField(allow_null=True, help_text="The store whose every group receives it (its code).")


COUNTS_HELP = "Group deliveries (one per customer group, made when sending starts) by state, and their total."


class GroupCampaignSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    audience = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField(help_text=COUNTS_HELP)

    class Meta:
        model = Campaign
        fields = ["id", "name", "store", "channel", "content", "status", "scheduled_at", "last_error", "created_at",
                  "started_at", "finished_at", "audience", "counts"]
        read_only_fields = fields

    @extend_schema_field(AudienceSerializer)
    def get_audience(self, obj) -> dict:
        audience = self.context["audiences"].get(obj.pk)
        if audience is None:
            return {"groups": [], "owners": [], "store": None}
        owners = self.context["owners"]
        return {"groups": list(audience.group_ids), "owners": [owners.get(pk, str(pk)) for pk in audience.owner_ids],
                "store": audience.store.code if audience.store_id else None}

    @extend_schema_field(COUNTS)
    def get_counts(self, obj) -> dict[str, int]:
        return self.context["counts"][obj.pk]


class GroupCampaignInputSerializer(StrictBody):
    name = strict.CharField(max_length=100)
    content = strict.CharField(max_length=20_000, help_text="One text for every group, at most 4,000 bytes (links "
                                                            "counted as the tracked links sent): no personal fields.")
    groups = serializers.ListField(child=strict.IntegerField(min_value=1, max_value=2**63 - 1), required=False,
                                   default=list,
                                   max_length=MAX_LISTED,
                                   help_text="Customer group ids (GET /api/v1/wecom/groups/) that receive it.")
    owners = serializers.ListField(child=strict.CharField(max_length=64), required=False, default=list,
                                   max_length=MAX_LISTED,
                                   help_text="WeCom userids of group owners: every group they own receives it.")
    store = strict.CharField(required=False, allow_null=True, default=None,
                             help_text="A store's code: every group of the store receives it (store accounts: "
                                       "their own). A store account's campaign is its store's whatever is given.")
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                             help_text="When to send once approved; empty: when sent.")


class GroupSendSerializer(StrictBody):
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                             help_text="Send at this time instead of now.")


DETAIL = {200: GroupCampaignSerializer, **ERRORS}


@extend_schema_view(
    list=extend_schema(summary="Campaigns to WeCom customer groups (filter by status, store), with their group "
                               "deliveries counted by state"),
    retrieve=extend_schema(summary="A group campaign with its audience and its group deliveries counted by state"),
    create=extend_schema(summary="Write a campaign to WeCom customer groups (a draft): chosen groups, every group of "
                                 "chosen owners or of a store; one text for all, no personal fields",
                         request=GroupCampaignInputSerializer, responses={201: GroupCampaignSerializer, **ERRORS}),
    approve=extend_schema(summary="Approve a draft group campaign (not store staff)", request=None, responses=DETAIL),
    send=extend_schema(summary="Send an approved group campaign now or at a time: one group delivery per group, then "
                               "one WeCom task per owner", request=GroupSendSerializer, responses=DETAIL),
    pause=extend_schema(summary="Pause: no further owner's task is made", request=None, responses=DETAIL),
    resume=extend_schema(summary="Resume a paused group campaign", request=None, responses=DETAIL),
    cancel=extend_schema(summary="Cancel: groups not handed to WeCom yet are cancelled, the owners' tasks waiting "
                                 "are cancelled in WeCom", request=None, responses=DETAIL),
)
class GroupCampaignViewSet(ScopedCreateListRetrieveViewSet):
    queryset = Campaign.objects.filter(channel=service.CHANNEL).select_related("store").order_by("-id")
    serializer_class = GroupCampaignSerializer
    filterset_class = GroupCampaignFilterSet
    scope_resource = "campaigns"
    parser_classes = [JSONParser]

    def _context(self, campaigns: list[Campaign]) -> dict:
        ids = [c.pk for c in campaigns]
        audiences = {a.campaign_id: a for a in GroupAudience.objects.filter(campaign_id__in=ids)
                     .select_related("store")}
        owner_ids = {pk for a in audiences.values() for pk in a.owner_ids}
        owners = dict(WecomStaff.objects.filter(pk__in=owner_ids).values_list("pk", "userid"))
        return {"audiences": audiences, "owners": owners, "counts": service.counts_of(ids, self.request.user)}

    def _detail(self, campaign: Campaign, code=status.HTTP_200_OK) -> Response:
        return Response(GroupCampaignSerializer(campaign, context=self._context([campaign])).data, status=code)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(GroupCampaignSerializer(page, many=True, context=self._context(page)).data)

    def retrieve(self, request, *args, **kwargs):
        return self._detail(self.get_object())

    def create(self, request, *args, **kwargs):
        body = GroupCampaignInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        store = None
        if data.get("store"):
            store = Store.objects.filter(code=data["store"]).first()
            if store is None:
                raise InvalidInput(details={"store": [_("No store %(code)s.") % {"code": data["store"]}]})
        campaign = service.create_group_campaign(
            actor=request.user, name=data["name"], content=data["content"], groups=data["groups"],
            owner_userids=data["owners"], store=store, scheduled_at=data.get("scheduled_at"))
        return self._detail(campaign, status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], filterset_class=None)
    def approve(self, request, pk=None):
        return self._detail(lifecycle.approve(campaign=self.get_object(), actor=request.user))

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def send(self, request, pk=None):
        body = GroupSendSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        return self._detail(lifecycle.send(campaign=self.get_object(), actor=request.user,
                                           scheduled_at=body.validated_data.get("scheduled_at")))

    @action(detail=True, methods=["post"], filterset_class=None)
    def pause(self, request, pk=None):
        return self._detail(lifecycle.pause(campaign=self.get_object(), actor=request.user))

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def resume(self, request, pk=None):
        return self._detail(lifecycle.resume(campaign=self.get_object(), actor=request.user))

    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request, pk=None):
        return self._detail(lifecycle.cancel(campaign=self.get_object(), actor=request.user))

