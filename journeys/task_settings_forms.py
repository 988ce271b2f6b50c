"""The task settings' forms: a repurchase cycle, the task policy and the rule kinds' priorities. Shape
only; the limits and checks are the services' (journeys.services.task_settings), whose errors come back
under the fields."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from journeys.models import RULE_KINDS, TaskKind, TaskPriority
from journeys.services.task_settings import CATEGORY_MAX, DAYS, POLICY_LIMITS, PRIORITY_NAMES


class ServiceErrors:
    def add_service_errors(self, exc) -> None:
        for name, problems in (exc.details or {}).items():
            for problem in problems if isinstance(problems, list) else [problems]:
                self.add_error(name if name in self.fields else None, str(problem))


class CycleForm(ServiceErrors, forms.Form):
    category = forms.CharField(label=_("Product category"), max_length=CATEGORY_MAX,
                               help_text=_("As the order lines name it, e.g. milk powder."))
    days = forms.IntegerField(label=_("Buys again every (days)"), min_value=DAYS[0], max_value=DAYS[1],
                              widget=forms.NumberInput(attrs={"inputmode": "numeric"}))


class PolicyForm(ServiceErrors, forms.Form):
    daily_cap = forms.IntegerField(
        label=_("Tasks a clerk sees a day"), min_value=POLICY_LIMITS["daily_cap"][0],
        max_value=POLICY_LIMITS["daily_cap"][1],
        help_text=_("The Today list shows this many, high priority first, then by due time; the rest stay queued."))
    dormant_days = forms.IntegerField(
        label=_("Days without an order before a member is dormant"), min_value=POLICY_LIMITS["dormant_days"][0],
        max_value=POLICY_LIMITS["dormant_days"][1], help_text=_("A dormant member gets a win-back task."))
    expire_after_days = forms.IntegerField(
        label=_("Days an overdue task stays open"), min_value=POLICY_LIMITS["expire_after_days"][0],
        max_value=POLICY_LIMITS["expire_after_days"][1], help_text=_("Then it expires."))
    orders_window_days = forms.IntegerField(
        label=_("Days after a done task its orders are counted"),
        min_value=POLICY_LIMITS["orders_window_days"][0], max_value=POLICY_LIMITS["orders_window_days"][1],
        help_text=_("For the tasks' results: an order this soon after a task is counted for it."))


class PriorityForm(ServiceErrors, forms.Form):
    """A select per kind of task the rules make, named by the kind (birthday, welcome, ...)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(name, TaskPriority(value).label) for value, name in PRIORITY_NAMES.items()]
        for kind in RULE_KINDS:
            self.fields[kind] = forms.ChoiceField(label=TaskKind(kind).label, choices=choices)
