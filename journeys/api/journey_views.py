"""API: journeys (/api/v1/journeys/): the list, one journey with its current steps, writing one (a
draft; a live one's edit is its next version), activate / pause / end, its runs and its figures per
step, and the ready-made templates. Every rule is the services'; store accounts reach their own
store's journeys and read the brand-wide ones."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from journeys import queries
from journeys.api import journey_serializers as s
from journeys.filters import JourneyFilterSet, RunFilterSet
from journeys.models import Journey, JourneyRun, JourneyStep
from journeys.services import journeys as services
from scrm.api.idempotency import idempotent
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS
from scrm.api.viewsets import ScopedQuerysetMixin
from scrm.errors import InvalidInput
from scrm.models import Store


def _input(data: dict, base: services.JourneyInput | None = None) -> services.JourneyInput:
    base = base or services.JourneyInput(name="", trigger="", steps=[])
    for name in ("name", "description", "trigger", "trigger_params", "entry_rule", "entry_period", "goal",
                 "goal_params"):
        if name in data:
            setattr(base, name, data[name])
    if "steps" in data:
        base.steps = [services.StepInput(kind=step["kind"], config=step.get("config") or {}) for step in data["steps"]]
    return base


def _store(code: str) -> Store | None:
    if not code:
        return None
    store = Store.objects.filter(code=code).first()
    if store is None:
        raise InvalidInput(details={"store": [_("No store with the code %(code)s.") % {"code": code}]})
    return store


@extend_schema_view(
    list=extend_schema(summary="Journeys (filter by store, state, trigger)"),
    retrieve=extend_schema(summary="One journey with the steps of its current version"),
    create=extend_schema(summary="Write a journey (a draft): a trigger, an entry rule, a goal and its steps",
                         request=s.JourneyInputSerializer, responses={201: s.JourneySerializer, **ERRORS}),
    partial_update=extend_schema(
        summary="Change a journey; a live or paused one's changed steps are its next version (members inside "
                "keep theirs); 409 once ended",
        request=s.JourneyPatchSerializer, responses={200: s.JourneySerializer, **ERRORS}),
    activate=extend_schema(summary="Go live (checked again now); members enter from now on", request=None,
                           responses={200: s.JourneySerializer, **ERRORS}),
    pause=extend_schema(summary="Pause: nobody enters or moves on until it is live again", request=None,
                        responses={200: s.JourneySerializer, **ERRORS}),
    end=extend_schema(summary="End: the members still inside leave", request=None,
                      responses={200: s.JourneySerializer, **ERRORS}),
    runs=extend_schema(summary="A journey's runs (filter by state, member, version), newest first",
                       responses=s.JourneyRunSerializer(many=True)),
    figures=extend_schema(summary="A journey's figures: entered, inside, done, left, converted, and per step",
                          responses={200: s.JourneyFiguresSerializer, **ERRORS}),
    templates=extend_schema(summary="Ready-made journeys: new customer, holiday campaign, conversion, recurring care",
                            responses=s.JourneyTemplateSerializer(many=True)),
)
class JourneyViewSet(ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    queryset = Journey.objects.select_related("store").prefetch_related(
        Prefetch("steps", queryset=JourneyStep.objects.order_by("position"))).order_by("-id")
    serializer_class = s.JourneySerializer
    filterset_class = JourneyFilterSet
    scope_resource = "journeys"
    pagination_class = cursor_ordered_by("-id")
    parser_classes = [JSONParser]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def _answer(self, journey, code=status.HTTP_200_OK):
        journey = self.get_queryset().get(pk=journey.pk)
        return Response(s.JourneySerializer(journey).data, status=code)

    @idempotent
    def create(self, request, *args, **kwargs):
        body = s.JourneyInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = _input(body.validated_data)
        data.store = _store(body.validated_data["store"])
        return self._answer(services.create_journey(actor=request.user, data=data), status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        journey = self.get_object()
        body = s.JourneyPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = _input(body.validated_data, services.as_input(journey))
        return self._answer(services.save_journey(actor=request.user, journey=journey, data=data))

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def activate(self, request, pk=None):
        return self._answer(services.activate(actor=request.user, journey=self.get_object()))

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def pause(self, request, pk=None):
        return self._answer(services.pause(actor=request.user, journey=self.get_object()))

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def end(self, request, pk=None):
        return self._answer(services.end(actor=request.user, journey=self.get_object()))

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=cursor_ordered_by("-id"))
    def runs(self, request, pk=None):
        journey = self.get_object()
        rows = JourneyRun.objects.visible_to(request.user).filter(journey=journey).select_related("store", "step")
        filters = RunFilterSet(request.GET, queryset=rows)
        if not filters.is_valid():
            raise InvalidInput(details={k: [str(m) for m in v] for k, v in filters.errors.items()})
        page = self.paginate_queryset(filters.qs)
        return self.get_paginated_response(s.JourneyRunSerializer(page, many=True).data)

    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def figures(self, request, pk=None):
        return Response(s.JourneyFiguresSerializer(queries.journey_figures(self.get_object(), request.user)).data)

    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def templates(self, request):
        rows = []
        for code, template in services.TEMPLATES.items():
            data = services.from_template(code)
            rows.append({"code": code, "label": str(template["label"]), "help": str(template["help"]),
                         "journey": {"name": data.name, "trigger": data.trigger, "trigger_params": data.trigger_params,
                                     "entry_rule": data.entry_rule, "entry_period": data.entry_period,
                                     "goal": data.goal, "goal_params": data.goal_params,
                                     "steps": [{"kind": st.kind, "config": st.config} for st in data.steps]}})
        return Response(s.JourneyTemplateSerializer(rows, many=True).data)
