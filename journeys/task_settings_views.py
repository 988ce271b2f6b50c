"""Screens: the brand's task settings (/tasks/settings/): product categories' repurchase cycles with
add, edit and remove, the task policy and the priorities of the kinds of task the rules make.
Operators change them; store managers read them; clerks have no page. Every rule is
journeys.services.task_settings'."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from journeys.models import RULE_KINDS, RepurchaseCycle, TaskKind, TaskPolicy, TaskPriority
from journeys.services import task_settings as service
from journeys.task_settings_forms import CycleForm, PolicyForm, PriorityForm
from scrm.dashboard import scoped_view
from scrm.errors import InvalidInput
from scrm.scoping import get_visible_or_404


def _require_read(user) -> None:
    if not service.can_read(user):
        raise PermissionDenied


def _require_change(user) -> None:
    if not service.can_change(user):
        raise PermissionDenied


def _page(request, *, policy_form=None, cycle_form=None, priority_form=None, editing=None, status=200):
    policy = TaskPolicy.current()
    context = {
        "policy": policy, "cycles": list(RepurchaseCycle.objects.order_by("category")),
        "can_change": service.can_change(request.user), "editing": editing,
        "policy_form": policy_form or PolicyForm(initial={n: getattr(policy, n) for n in service.POLICY_FIELDS}),
        "cycle_form": cycle_form or CycleForm(initial={"category": editing.category, "days": editing.days}
                                              if editing else None),
        "priority_form": priority_form or PriorityForm(initial=service.priorities(policy)),
        "priorities": [(kind, TaskKind(kind).label, TaskPriority(policy.priority_for(kind)).label)
                       for kind in RULE_KINDS],
    }
    return render(request, "journeys/task_settings.html", context, status=status)


@scoped_view
def task_settings(request):
    """The page; a POST saves the policy."""
    _require_read(request.user)
    editing = None
    if request.GET.get("edit", "").isdigit():
        editing = RepurchaseCycle.objects.filter(pk=int(request.GET["edit"])).first()
    if request.method != "POST":
        return _page(request, editing=editing)
    _require_change(request.user)
    form = PolicyForm(request.POST)
    if form.is_valid():
        try:
            service.update_policy(actor=request.user, values=dict(form.cleaned_data))
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Task policy saved."))
            return redirect("journeys-settings")
    return _page(request, policy_form=form, status=400)


@require_POST
@scoped_view
def priorities(request):
    """Save the rule kinds' priorities (for tasks made from now on)."""
    _require_read(request.user)
    _require_change(request.user)
    form = PriorityForm(request.POST)
    if form.is_valid():
        try:
            service.update_priorities(actor=request.user, values=dict(form.cleaned_data))
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Priorities saved: tasks made from now on take them."))
            return redirect("journeys-settings")
    return _page(request, priority_form=form, status=400)


def _save_cycle(request, cycle: RepurchaseCycle | None):
    _require_read(request.user)
    _require_change(request.user)
    form = CycleForm(request.POST)
    if form.is_valid():
        try:
            saved = service.save_cycle(actor=request.user, cycle=cycle, **form.cleaned_data)
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Saved: %(category)s every %(days)d days.")
                             % {"category": saved.category, "days": saved.days})
            return redirect("journeys-settings")
    return _page(request, cycle_form=form, editing=cycle, status=400)


@require_POST
@scoped_view
def cycle_add(request):
    return _save_cycle(request, None)


@require_POST
@scoped_view(pk=RepurchaseCycle)
def cycle_edit(request, pk: int):
    return _save_cycle(request, get_visible_or_404(RepurchaseCycle, request.user, pk=pk))


@require_POST
@scoped_view(pk=RepurchaseCycle)
def cycle_delete(request, pk: int):
    _require_read(request.user)
    _require_change(request.user)
    cycle = get_visible_or_404(RepurchaseCycle, request.user, pk=pk)
    service.delete_cycle(actor=request.user, cycle=cycle)
    messages.success(request, _("Removed: %(category)s (no more repurchase tasks for it).")
                     % {"category": cycle.category})
    return redirect("journeys-settings")


urlpatterns = [
    path("tasks/settings/", task_settings, name="journeys-settings"),
    path("tasks/settings/priorities/", priorities, name="journeys-priorities"),
    path("tasks/settings/cycles/", cycle_add, name="journeys-cycle-add"),
    path("tasks/settings/cycles/<int:pk>/", cycle_edit, name="journeys-cycle-edit"),
    path("tasks/settings/cycles/<int:pk>/delete/", cycle_delete, name="journeys-cycle-delete"),
]
