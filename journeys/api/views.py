"""API: staff tasks (/api/v1/tasks/): the list (filter by staff, store, state, kind, due dates, member),
one task, tasks made by hand, and the taps: complete, skip, reassign, claim. Every rule is the
services'; store accounts reach their own store's tasks."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from journeys.api import serializers as s
from journeys.filters import TaskFilterSet
from journeys.models import Task
from journeys.services import tasks as services
from members.models import Member
from scrm.api.idempotency import idempotent
from scrm.api.pagination import cursor_ordered_by
from scrm.api.parsers import JSONParser
from scrm.api.schema import ERRORS
from scrm.api.viewsets import ScopedQuerysetMixin
from scrm.errors import InvalidInput
from scrm.models import Store, User

CONFLICT = {409: OpenApiResponse(description="Refused by the task's state (done, skipped, expired, taken "
                                             "by someone else); the error's code says which.")}


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _one(model, pk, field: str, message: str):
    if pk is None:
        return None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise InvalidInput(details={field: [message % {"id": pk}]})
    return found


@extend_schema_view(
    list=extend_schema(summary="Staff tasks (filter by assignee, pool, store, state, kind, due dates, member)"),
    retrieve=extend_schema(summary="One staff task"),
    create=extend_schema(summary="Make a task by hand (a follow-up or a custom task)",
                         request=s.TaskInputSerializer, responses={201: s.TaskSerializer, **ERRORS, **CONFLICT}),
    complete=extend_schema(summary="Mark a task done with its outcome (a retry answers the task as it is)",
                           request=s.CompleteInputSerializer, responses={200: s.TaskSerializer, **ERRORS, **CONFLICT}),
    skip=extend_schema(summary="Skip a task (a done task cannot be skipped)", request=s.SkipInputSerializer,
                       responses={200: s.TaskSerializer, **ERRORS, **CONFLICT}),
    reassign=extend_schema(summary="Give an open task to another staff member of its store, or to its pool",
                           request=s.ReassignInputSerializer, responses={200: s.TaskSerializer, **ERRORS, **CONFLICT}),
    claim=extend_schema(summary="Take a task from the store's pool", request=None,
                        responses={200: s.TaskSerializer, **ERRORS, **CONFLICT}),
)
class TaskViewSet(ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  viewsets.GenericViewSet):
    queryset = Task.objects.select_related("store", "member").order_by("id")
    serializer_class = s.TaskSerializer
    filterset_class = TaskFilterSet
    scope_resource = "tasks"
    pagination_class = cursor_ordered_by("id")
    parser_classes = [JSONParser]

    @idempotent
    def create(self, request, *args, **kwargs):
        data = _valid(s.TaskInputSerializer, request)
        store = Store.objects.filter(code=data["store"]).first()
        if store is None:
            raise InvalidInput(details={"store": [_("No store with the code %(code)s.") % {"code": data["store"]}]})
        member = _one(Member, data["member"], "member", _("No member %(id)s."))
        assignee = _one(User, data["assignee"], "assignee", _("No staff member %(id)s."))
        task = services.create_task(actor=request.user, store=store, kind=data["kind"], due_at=data["due_at"],
                                    member=member, assignee=assignee, title=data["title"], message=data["message"],
                                    priority=s.PRIORITY_VALUES[data["priority"]])
        return Response(s.TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def complete(self, request, *args, **kwargs):
        task = self.get_object()  # another store's task answers 404 before its body is read
        data = _valid(s.CompleteInputSerializer, request)
        task = services.complete(task=task, actor=request.user, outcome=data["outcome"], note=data["note"])
        return Response(s.TaskSerializer(task).data)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def skip(self, request, *args, **kwargs):
        task = self.get_object()
        data = _valid(s.SkipInputSerializer, request)
        return Response(s.TaskSerializer(services.skip(task=task, actor=request.user, reason=data["reason"])).data)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def reassign(self, request, *args, **kwargs):
        task = self.get_object()
        data = _valid(s.ReassignInputSerializer, request)
        assignee = _one(User, data["assignee"], "assignee", _("No staff member %(id)s."))
        return Response(s.TaskSerializer(services.reassign(task=task, actor=request.user, assignee=assignee)).data)

    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def claim(self, request, *args, **kwargs):
        return Response(s.TaskSerializer(services.claim(task=self.get_object(), actor=request.user)).data)
