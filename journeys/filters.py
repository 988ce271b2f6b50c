"""The FilterSet of staff tasks: the same for the dashboard board and the API list."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from journeys.models import Journey, JourneyRun, JourneyState, RunState, Task, TaskKind, TaskState, Trigger
from scrm.filters import StoreFilter
from scrm.models import User


class TaskFilterSet(django_filters.FilterSet):
    store = StoreFilter(field_name="store", label=_("Store"))
    assignee = django_filters.ModelChoiceFilter(field_name="assignee", queryset=User.objects.all(),
                                                label=_("Staff member"))
    pool = django_filters.BooleanFilter(field_name="assignee", lookup_expr="isnull", label=_("In the store's pool"))
    state = django_filters.ChoiceFilter(choices=TaskState.choices, label=_("State"))
    kind = django_filters.ChoiceFilter(choices=TaskKind.choices, label=_("Kind"))
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member"))
    due_after = django_filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="gte", label=_("Due from"))
    due_before = django_filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lt", label=_("Due before"))

    class Meta:
        model = Task
        fields = ["store", "assignee", "pool", "state", "kind", "member", "due_after", "due_before"]


class JourneyFilterSet(django_filters.FilterSet):
    store = StoreFilter(field_name="store", label=_("Store"))
    state = django_filters.ChoiceFilter(choices=JourneyState.choices, label=_("State"))
    trigger = django_filters.ChoiceFilter(choices=Trigger.choices, label=_("Trigger"))

    class Meta:
        model = Journey
        fields = ["store", "state", "trigger"]


class RunFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=RunState.choices, label=_("State"))
    member = django_filters.NumberFilter(field_name="member_id", label=_("Member"))
    version = django_filters.NumberFilter(field_name="version", label=_("Version"))

    class Meta:
        model = JourneyRun
        fields = ["state", "member", "version"]
