"""API: services (/api/v1/appointments/services/), free slots (/api/v1/appointments/availability/) and
bookings (/api/v1/appointments/bookings/ with cancel, reschedule, check-in, no-show, complete). Every
rule is the services'; store accounts reach their own store's bookings and services (and brand-wide
services)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from appointments.api import serializers as s
from appointments.filters import BookingFilterSet, ServiceFilterSet
from appointments.models import Booking, Service, Skill
from appointments.services import availability, bookings, catalogue
from scrm.api.filters import COMMON_QUERY_PARAMS, refuse_unknown_params
from scrm.api.idempotency import idempotent
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS
from scrm.api.viewsets import ScopedQuerysetMixin, ScopedViewSet
from scrm.errors import InvalidInput, NotInScope
from scrm.models import Store
from scrm.scoping import scope

CONFLICT = {409: OpenApiResponse(description="Refused by the current state (slot taken, outside the cancellation "
                                             "rule, not booked, member busy, not enough points); the code says which.")}


def _valid(serializer_class, request, *, partial=False) -> dict:
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _store(code, actor) -> Store:
    store = scope(Store.objects.filter(code=code), actor).first() if code else None
    if store is None:
        raise NotInScope(_("No store with the code %(code)s, or not yours to reach.") % {"code": str(code)[:40]},
                         details={"store": [str(code)[:40]]})
    return store


def _service(pk, actor) -> Service:
    service = Service.objects.visible_to(actor).filter(pk=pk).first()
    if service is None:
        raise NotInScope(_("No such service, or not yours to reach."), details={"service": [pk]})
    return service


def _skill(values: dict) -> dict:
    if values.get("skill") is not None:
        skill = Skill.objects.filter(pk=values["skill"]).first()
        if skill is None:
            raise InvalidInput(details={"skill": [_("No such skill.")]})
        values["skill"] = skill
    return values


class _Base(ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    parser_classes = [JSONParser]
    scope_resource = "appointments"


@extend_schema_view(
    list=extend_schema(summary="Services by appointment (filter by store, where, bookable)"),
    retrieve=extend_schema(summary="A service"),
    create=extend_schema(summary="Offer a service at a store (its manager, operators) or brand-wide (operators)",
                         request=s.ServiceInputSerializer, responses={201: s.ServiceSerializer, **ERRORS}),
    partial_update=extend_schema(summary="Change a service", request=s.ServicePatchSerializer,
                                 responses={200: s.ServiceSerializer, **ERRORS}),
)
class ServiceViewSet(_Base, mixins.CreateModelMixin):
    queryset = Service.objects.select_related("store").order_by("id")
    serializer_class = s.ServiceSerializer
    filterset_class = ServiceFilterSet
    pagination_class = cursor_ordered_by("id")
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create(self, request, *args, **kwargs):
        values = _skill(dict(_valid(s.ServiceInputSerializer, request)))
        code = values.pop("store")
        store = _store(code, request.user) if code else None
        service = catalogue.save_service(actor=request.user, store=store, values=values)
        return Response(s.ServiceSerializer(service).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        service = self.get_object()
        values = _skill(dict(_valid(s.ServicePatchSerializer, request, partial=True)))
        service = catalogue.save_service(actor=request.user, store=None, service=service, values=values)
        return Response(s.ServiceSerializer(service).data)


AVAILABILITY_PARAMS = [
    OpenApiParameter("service", OpenApiTypes.INT, required=True, description="The service's id."),
    OpenApiParameter("store", OpenApiTypes.STR, required=True, description="The store's code."),
    OpenApiParameter("start", OpenApiTypes.DATE, description="The first day (brand time zone); default today."),
    OpenApiParameter("days", OpenApiTypes.INT, description=f"How many days, 1 to {availability.MAX_DAYS} "
                                                           "(default 31)."),
    OpenApiParameter("staff", OpenApiTypes.INT, description="Only this staff member's slots."),
]


def _int(raw, name: str, low: int, high: int) -> int:
    if raw is None or not raw.isdigit() or len(raw) > 9 or not low <= int(raw) <= high:
        raise InvalidInput(details={name: [_("A whole number from %(low)d to %(high)d.") % {"low": low, "high": high}]})
    return int(raw)


class AvailabilityViewSet(ScopedViewSet):
    scope_resource = "appointments"
    list_answers_one = True  # one service's slots at one store, not a page of them

    @extend_schema(summary="Free slots of a service at a store: starts within its booking window where a "
                           "qualified staff member is free for the whole visit and its buffers",
                   parameters=AVAILABILITY_PARAMS, responses={200: s.AvailabilitySerializer, **ERRORS})
    def list(self, request):
        params = request.query_params
        refuse_unknown_params(params, COMMON_QUERY_PARAMS | {"service", "store", "start", "days", "staff"})
        service_id = _int(params.get("service"), "service", 1, 2**31 - 1)
        store = _store(params.get("store"), self.actor)
        service = _service(service_id, self.actor)
        start = timezone.localtime().date()  # today in the brand's time zone
        if (raw := params.get("start")) is not None:
            try:
                start = dt.date.fromisoformat(raw)
            except ValueError:
                raise InvalidInput(details={"start": [_("A date, e.g. 2026-12-24.")]})
        days = _int(params.get("days", "31"), "days", 1, availability.MAX_DAYS)
        staff = _int(params["staff"], "staff", 1, 2**31 - 1) if "staff" in params else None
        found = availability.slots(service=service, store=store, start_day=start, days=days, staff_id=staff)
        return Response(s.AvailabilitySerializer({"service": service.pk, "store": store.code, "slots": found}).data)


@extend_schema_view(
    list=extend_schema(summary="Bookings (filter by store, state, source, member, staff, service, start)"),
    retrieve=extend_schema(summary="A booking"),
    create=extend_schema(summary="Book a service for a member: one staff member, one slot; 201 the first time, "
                                 "200 for a retry with the same Idempotency-Key",
                         request=s.BookingInputSerializer, responses={201: s.BookingSerializer, **ERRORS, **CONFLICT}),
    cancel=extend_schema(summary="Cancel a booking (the member within the rule, the store any time): points back",
                         request=s.BookingCancelInputSerializer,
                         responses={200: s.BookingSerializer, **ERRORS, **CONFLICT}),
    reschedule=extend_schema(summary="Move a booking to another free slot: answers the new booking",
                             request=s.BookingRescheduleInputSerializer,
                             responses={200: s.BookingSerializer, **ERRORS, **CONFLICT}),
    check_in=extend_schema(summary="The member arrived (from two hours before the start)", request=None,
                           responses={200: s.BookingSerializer, **ERRORS, **CONFLICT}),
    no_show=extend_schema(summary="The member did not come (after the start)", request=None,
                          responses={200: s.BookingSerializer, **ERRORS, **CONFLICT}),
    complete=extend_schema(summary="The visit is done: its notes, a follow-up task for the guide",
                           request=s.VisitCompleteInputSerializer,
                           responses={200: s.BookingSerializer, **ERRORS, **CONFLICT}),
)
class BookingViewSet(_Base, mixins.CreateModelMixin):
    queryset = Booking.objects.select_related("store").order_by("id")
    serializer_class = s.BookingSerializer
    filterset_class = BookingFilterSet
    pagination_class = cursor_ordered_by("id")
    http_method_names = ["get", "post", "head", "options"]

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.BookingInputSerializer, request)
        result = bookings.book(
            actor=request.user, service=_service(data["service"], request.user), store=_store(data["store"],
                                                                                           request.user),
            member_id=data["member"], starts_at=data["starts_at"], staff_id=data["staff"], source=data["source"],
            address=data["address"], member_note=data["member_note"])
        return Response(s.BookingSerializer(result.booking).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def cancel(self, request, *args, **kwargs):
        booking = self.get_object()  # another store's booking is a 404 before its body is read
        data = _valid(s.BookingCancelInputSerializer, request)
        return Response(s.BookingSerializer(bookings.cancel(booking=booking, actor=request.user, by=data["by"])).data)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def reschedule(self, request, *args, **kwargs):
        booking = self.get_object()
        data = _valid(s.BookingRescheduleInputSerializer, request)
        moved = bookings.reschedule(booking=booking, actor=request.user, starts_at=data["starts_at"],
                                    staff_id=data["staff"], by=data["by"])
        return Response(s.BookingSerializer(moved).data)

    @action(detail=True, methods=["post"], filterset_class=None, url_path="check-in")
    @idempotent
    def check_in(self, request, *args, **kwargs):
        return Response(s.BookingSerializer(bookings.check_in(booking=self.get_object(), actor=request.user)).data)

    @action(detail=True, methods=["post"], filterset_class=None, url_path="no-show")
    @idempotent
    def no_show(self, request, *args, **kwargs):
        return Response(s.BookingSerializer(bookings.mark_no_show(booking=self.get_object(),
                                                                  actor=request.user)).data)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def complete(self, request, *args, **kwargs):
        booking = self.get_object()
        data = _valid(s.VisitCompleteInputSerializer, request)
        return Response(s.BookingSerializer(bookings.complete(booking=booking, actor=request.user,
                                                              notes=data["notes"])).data)
