"""API: the content calendar's planned posts (/api/v1/calendar/posts/): the list (filter by store,
state, kind, publish dates), one post with its completion, planning and editing a post, cancelling
it, and its senders (who posted, who has not yet, who was left out and why). Every rule is the
services'; store accounts reach their own store's posts and brand-wide posts (their own staff's
completion only)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from journeys.calendar import queries, services
from journeys.calendar.api import serializers as s
from journeys.calendar.filters import PostFilterSet
from journeys.calendar.models import PlannedPost
from scrm.api.idempotency import idempotent
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS
from scrm.api.viewsets import ScopedQuerysetMixin
from scrm.errors import InvalidInput
from scrm.models import Store

CONFLICT = {409: OpenApiResponse(description="Refused by the post's state (already handed to WeCom, its day "
                                             "over); the error's code says which.")}
FIELDS = ("title", "kind", "publish_at", "text", "link_url", "link_title", "image_url", "audience")


def _store(code):
    if code in (None, ""):
        return None
    store = Store.objects.filter(code=code).first()
    if store is None:
        raise InvalidInput(details={"store": [_("No store with the code %(code)s.") % {"code": code}]})
    return store


def _input(data: dict, post: PlannedPost | None = None) -> services.PostInput:
    current = {}
    if post is not None:
        current = {name: getattr(post, name) for name in FIELDS}
        current.update(store=post.store, staff_ids=list(post.staff_ids), tag_ids=list(post.tag_ids),
                       image_ids=list(post.image_ids))
    values = {**current, **{name: data[name] for name in FIELDS if name in data}}
    if "store" in data:
        values["store"] = _store(data["store"])
    if "staff" in data:
        values["staff_ids"] = data["staff"]
    if "tags" in data:
        values["tag_ids"] = data["tags"]
    if "images" in data:
        values["image_ids"] = data["images"]
    return services.PostInput(**values)


@extend_schema_view(
    list=extend_schema(summary="Planned posts (filter by store, brand-wide, state, kind, publish dates)"),
    retrieve=extend_schema(summary="One planned post with its completion"),
    create=extend_schema(summary="Plan a Moment or a customer-group post (scheduled unless schedule is false)",
                         request=s.CalendarPostInputSerializer,
                         responses={201: s.CalendarPostSerializer, **ERRORS, **CONFLICT}),
    partial_update=extend_schema(summary="Edit a draft or scheduled post", request=s.CalendarPostPatchSerializer,
                                 responses={200: s.CalendarPostSerializer, **ERRORS, **CONFLICT}),
    cancel=extend_schema(summary="Cancel a post (stopped in WeCom for senders who have not posted; a retry "
                                 "answers the post as it is)", request=None,
                         responses={200: s.CalendarPostSerializer, **ERRORS, **CONFLICT}),
    completion=extend_schema(summary="The post's senders: posted, not yet, refused by WeCom, left out",
                             responses={200: s.CalendarCompletionAnswerSerializer, **ERRORS}),
)
class PostViewSet(ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.UpdateModelMixin, viewsets.GenericViewSet):
    queryset = PlannedPost.objects.select_related("store").order_by("id")
    serializer_class = s.CalendarPostSerializer
    filterset_class = PostFilterSet
    scope_resource = "calendar"
    pagination_class = cursor_ordered_by("id")
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def filter_queryset(self, queryset):
        return queries.with_completion(super().filter_queryset(queryset), self.request.user)

    def _answer(self, post, code=status.HTTP_200_OK):
        post = queries.with_completion(PlannedPost.objects.filter(pk=post.pk), self.request.user) \
            .select_related("store").get()
        return Response(s.CalendarPostSerializer(post).data, status=code)

    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = s.CalendarPostInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        post = services.save_post(actor=request.user, data=_input(data), schedule=data["schedule"])
        return self._answer(post, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        post = self.get_object()
        serializer = s.CalendarPostPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        schedule = data.get("schedule", post.state != "draft")
        return self._answer(services.save_post(actor=request.user, data=_input(data, post), post=post,
                                               schedule=schedule))

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def cancel(self, request, *args, **kwargs):
        return self._answer(services.cancel_post(actor=request.user, post=self.get_object()))

    @action(detail=True, methods=["get"], filterset_class=None)
    def completion(self, request, *args, **kwargs):
        post = self.get_object()
        rows = queries.senders(post, request.user)[: queries.SENDERS_SHOWN]
        return Response({"completion": queries.completion(post, request.user),
                         "senders": s.CalendarSenderSerializer(rows, many=True).data})
