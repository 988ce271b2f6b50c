"""API of webhooks under /api/v1/webhooks/: subscriptions (a key sees and manages its own; an
operator's session every one) with their actions, deliveries and figures; the event types; and the
replay read of the event log. Every rule is the services' (webhooks.services.subscriptions)."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from scrm.api.filters import refuse_unknown_params
from scrm.api.idempotency import idempotent
from scrm.api.pagination import Cursor, cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import CONFLICT, ERRORS
from scrm.api.viewsets import ScopedQuerysetMixin, ScopedViewSet
from scrm.errors import InvalidInput
from scrm.models import ApiKey
from scrm.scoping import scope
from webhooks import queries
from webhooks.api import serializers as s
from webhooks.filters import DeliveryFilterSet, SubscriptionFilterSet
from webhooks.models import Delivery, DeliveryState, Subscription
from webhooks.services import subscriptions as services


def _valid(serializer_class, request, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _api_key(request, key_id) -> ApiKey | None:
    if key_id is None:
        return None
    key = scope(ApiKey.objects.select_related("store"), request.user).filter(pk=key_id).first()
    if key is None:
        raise InvalidInput(details={"api_key": [_("No integration has the key id %(id)s.") % {"id": key_id}]})
    return key


CONFLICT_ = {409: CONFLICT}
DELIVERY_QUERY = frozenset({"state", "event_type", "since", "cursor", "page_size", "format"})
EVENT_QUERY = frozenset({"after", "since", "types", "limit", "format"})
DELIVERY_PARAMETERS = [
    OpenApiParameter("state", OpenApiTypes.STR, enum=list(DeliveryState.values), description="Delivery state."),
    OpenApiParameter("event_type", OpenApiTypes.STR, description="An event type code."),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="Deliveries queued at or after this time."),
]


@extend_schema_view(
    list=extend_schema(summary="Subscriptions (a key: its own; filter by state, event type, store)"),
    retrieve=extend_schema(summary="A subscription"),
    create=extend_schema(summary="Subscribe a URL to event types; the answer carries the signing secret, once",
                         request=s.SubscriptionInputSerializer,
                         responses={201: s.CreatedSubscriptionSerializer, **ERRORS, **CONFLICT_}),
    partial_update=extend_schema(summary="Change a subscription's name, URL, event types or store",
                                 request=s.SubscriptionPatchSerializer,
                                 responses={200: s.SubscriptionSerializer, **ERRORS}),
    destroy=extend_schema(summary="Delete a subscription and its deliveries (the events stay)"),
    ping=extend_schema(summary="Send a test ping to this subscription alone", request=None,
                       responses={202: s.WebhookPingSerializer, **ERRORS, **CONFLICT_}),
    rotate_secret=extend_schema(summary="A new signing secret (shown once); the previous one signs too for 24 hours",
                                request=None, responses={200: s.WebhookSecretSerializer, **ERRORS}),
    pause=extend_schema(summary="Pause sending; deliveries wait", request=s.WebhookPauseInputSerializer,
                        responses={200: s.SubscriptionSerializer, **ERRORS}),
    resume=extend_schema(summary="Resume sending", request=None, responses={200: s.SubscriptionSerializer, **ERRORS}),
    redeliver=extend_schema(summary="Send parked deliveries again (all, or the ids given)",
                            request=s.WebhookRedeliverInputSerializer,
                            responses={200: s.WebhookCountSerializer, **ERRORS}),
    replay=extend_schema(summary="Queue again every kept event after an id or since a time",
                         request=s.WebhookReplayInputSerializer,
                         responses={200: s.WebhookReplayedSerializer, **ERRORS}),
    deliveries=extend_schema(summary="The subscription's deliveries, newest first (filter by state, event type, "
                                     "since)", parameters=DELIVERY_PARAMETERS,
                             responses={200: s.WebhookDeliverySerializer(many=True), **ERRORS}),
    figures=extend_schema(summary="Delivered, retrying, waiting and parked counts, p95 latency, last success and "
                                  "failure", responses={200: s.WebhookFiguresSerializer, **ERRORS}),
)
class SubscriptionViewSet(ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    queryset = Subscription.objects.select_related("api_key", "store").order_by("id")
    serializer_class = s.SubscriptionSerializer
    filterset_class = SubscriptionFilterSet
    scope_resource = "webhooks"
    pagination_class = cursor_ordered_by("id")
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    unpaged_actions = ("figures",)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        key = getattr(self.request.user, "api_key", None)
        if key is not None and queryset.model is Subscription:
            queryset = queryset.filter(api_key=key)  # an integration reaches its own subscriptions only
        return queryset

    def _answer(self, subscription, serializer=s.SubscriptionSerializer, code=status.HTTP_200_OK, **extra):
        subscription = Subscription.objects.select_related("api_key", "store").get(pk=subscription.pk)
        data = serializer(subscription).data
        return Response({**data, **extra}, status=code)

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.SubscriptionInputSerializer, request)
        created = services.create_subscription(
            actor=request.user, name=data["name"], url=data["url"], event_types=data["event_types"],
            store=data.get("store"), api_key=_api_key(request, data.get("api_key")))
        subscription = Subscription.objects.select_related("api_key", "store").get(pk=created.subscription.pk)
        subscription.secret = created.secret
        return Response(s.CreatedSubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        subscription = self.get_object()
        data = _valid(s.SubscriptionPatchSerializer, request, partial=True)
        subscription = services.update_subscription(actor=request.user, subscription=subscription, **data)
        return self._answer(subscription)

    def destroy(self, request, *args, **kwargs):
        services.delete_subscription(actor=request.user, subscription=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def ping(self, request, *args, **kwargs):
        delivery = services.ping(actor=request.user, subscription=self.get_object())
        delivery = Delivery.objects.select_related("event").get(pk=delivery.pk)
        return Response({"delivery": s.WebhookDeliverySerializer(delivery).data}, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["post"], url_path="rotate-secret", filterset_class=None)
    @idempotent
    def rotate_secret(self, request, *args, **kwargs):
        subscription = self.get_object()
        secret = services.rotate_secret(actor=request.user, subscription=subscription)
        subscription.refresh_from_db()
        return Response({"secret": secret, "previous_valid_until": subscription.previous_secret_until})

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def pause(self, request, *args, **kwargs):
        data = _valid(s.WebhookPauseInputSerializer, request) if request.data else {}
        subscription = services.pause(actor=request.user, subscription=self.get_object(),
                                      reason=data.get("reason", ""))
        return self._answer(subscription)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def resume(self, request, *args, **kwargs):
        return self._answer(services.resume(actor=request.user, subscription=self.get_object()))

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def redeliver(self, request, *args, **kwargs):
        data = _valid(s.WebhookRedeliverInputSerializer, request) if request.data else {}
        count = services.redeliver(actor=request.user, subscription=self.get_object(), ids=data.get("ids"))
        return Response({"redelivered": count})

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def replay(self, request, *args, **kwargs):
        data = _valid(s.WebhookReplayInputSerializer, request)
        result = services.replay(actor=request.user, subscription=self.get_object(), after_id=data.get("after"),
                                 since=data.get("since"))
        return Response({"requeued": result.requeued, "created": result.created})

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=Cursor)
    def deliveries(self, request, *args, **kwargs):
        subscription = self.get_object()
        refuse_unknown_params(request.query_params, DELIVERY_QUERY)
        # The deliveries' own FilterSet, applied here: the view's filterset_class is the subscriptions'.
        filters = DeliveryFilterSet(request.query_params, queryset=scope(
            Delivery.objects.select_related("event"), request.user).filter(subscription=subscription))
        if not filters.is_valid():
            raise InvalidInput(details={name: [str(e) for e in errors] for name, errors in filters.errors.items()})
        page = self.paginate_queryset(filters.qs)
        return self.get_paginated_response(s.WebhookDeliverySerializer(page, many=True).data)

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def figures(self, request, *args, **kwargs):
        subscription = self.get_object()
        return Response(queries.figures([subscription.pk])[subscription.pk].as_dict())


@extend_schema_view(list=extend_schema(
    summary="Every event type a subscription may list, with the read scope a key needs to hear it",
    responses={200: s.WebhookEventTypeSerializer(many=True)}))
class EventTypeViewSet(ScopedViewSet):
    scope_resource = "webhooks"

    def list(self, request, *args, **kwargs):
        return Response(queries.type_catalogue())


def _int_param(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput(details={name: [_("A whole number (an event id).")]})
    return int(raw)




@extend_schema_view(list=extend_schema(
    summary="Replay: the events this key may hear after an id or since a time, in id order, as delivered",
    parameters=[s.WebhookEventQuerySerializer], responses={200: s.WebhookEventPageSerializer, **ERRORS}))
class EventLogViewSet(ScopedViewSet):
    scope_resource = "webhooks"
    list_answers_one = True  # one page object: {"next", "results"}

    def list(self, request, *args, **kwargs):
        refuse_unknown_params(request.query_params, EVENT_QUERY)
        after = _int_param(request, "after")
        raw_since = request.query_params.get("since")
        since = None
        if raw_since is not None:  # given but empty is refused, as any other time that is not one
            since = parse_datetime(raw_since.replace(" ", "+"))  # a '+' unescaped in a query string is a space
            if since is None or since.tzinfo is None:
                raise InvalidInput(details={"since": [_("A time with its offset, such as 2026-12-03T10:00:00Z.")]})
        limit = _int_param(request, "limit")
        types = [t.strip() for t in request.query_params.get("types", "").split(",") if t.strip()]
        if "types" in request.query_params and not types:
            raise InvalidInput(details={"types": [_("Name at least one event type, or leave types out.")]})
        page = queries.event_page(self.actor, after=after, since=since, types=types or None,
                                  limit=queries.DEFAULT_PAGE if limit is None else limit)
        return Response({"next": page.next, "results": page.results})
