"""Screens of journeys (SOP): the list, the template picker, the editor (a readable list of steps, each
a small form; no canvas), and a journey's page with its figures per step (entered, reached,
converted), its latest runs and its activate / pause / end buttons. Every rule is the services'."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from journeys import journey_wording as wording
from journeys import queries
from journeys.filters import JourneyFilterSet
from journeys.models import (
    EntryPeriod,
    EntryRule,
    Goal,
    Journey,
    JourneyRun,
    JourneyState,
    StepKind,
    TaskPriority,
    Trigger,
)
from journeys.services import journeys as services
from members.models import Tag
from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import InvalidInput
from scrm.models import Role
from scrm.scoping import get_visible_or_404

EDITOR_SPARE_ROWS = 3
RUNS_SHOWN = 20
MANAGERS = (Role.OPERATOR, Role.STORE_MANAGER)
STEP_FIELDS = ("mode", "days", "hours", "minutes", "weekday", "date", "at", "channel", "content", "task_kind",
               "title", "message", "priority", "due_hours", "assignee", "condition", "tag", "rank", "goto")
INT_FIELDS = {"days", "hours", "minutes", "weekday", "priority", "due_hours", "assignee", "tag", "rank", "goto"}
# Which of a row's fields each kind keeps.
KIND_FIELDS = {
    StepKind.WAIT: ("mode", "days", "hours", "minutes", "weekday", "date", "at"),
    StepKind.SEND: ("channel", "content"),
    StepKind.TASK: ("task_kind", "title", "message", "priority", "due_hours", "assignee"),
    StepKind.BRANCH: ("condition", "tag", "rank", "goto"),
    StepKind.EXIT: (),
}
TRIGGER_FIELDS = ("channel_code", "tag", "rank", "attribute", "category", "days", "event", "community", "segment")


class JourneyListView(ScopedListView):
    allowed_roles = MANAGERS
    queryset = Journey.objects.select_related("store")
    filterset_class = JourneyFilterSet
    template_name = "journeys/journey_list.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(can_create=services.can_edit(self.request.user, store_id=self.request.user.store_id),
                       wording=wording)
        return context


def _value(raw: str, name: str):
    raw = (raw or "").strip()
    if raw == "":
        return None
    if name in INT_FIELDS:
        try:
            return int(raw)
        except ValueError:
            return raw  # the services name it as not a whole number
    return raw


def _steps_from(post) -> list[services.StepInput]:
    """The editor's rows in order (rows without a kind, or ticked for removal, are dropped)."""
    steps = []
    for index in range(int(post.get("rows") or 0)):
        kind = post.get(f"s{index}-kind", "")
        if not kind or post.get(f"s{index}-remove"):
            continue
        config = {}
        for name in KIND_FIELDS.get(kind, STEP_FIELDS):
            value = _value(post.get(f"s{index}-{name}", ""), name)
            if value is not None:
                config["kind" if name == "task_kind" else name] = value
        steps.append(services.StepInput(kind=kind, config=config))
    return steps


def _input_from(post, store) -> services.JourneyInput:
    trigger = post.get("trigger", "")
    params = {}
    for name in TRIGGER_FIELDS:
        value = _value(post.get(f"t-{name}", ""), "tag" if name in ("tag", "rank", "days", "event", "community",
                                                                    "segment") else name)
        if value is not None:
            params[name] = value
    goal_params = {}
    if post.get("goal") == Goal.TAG and post.get("goal-tag"):
        goal_params["tag"] = _value(post.get("goal-tag"), "tag")
    return services.JourneyInput(
        name=post.get("name", ""), description=post.get("description", ""), trigger=trigger,
        trigger_params=params, entry_rule=post.get("entry_rule", EntryRule.ONCE),
        entry_period=post.get("entry_period", "") if post.get("entry_rule") == EntryRule.PER_PERIOD else "",
        goal=post.get("goal", Goal.NONE), goal_params=goal_params, store=store, template=post.get("template", ""),
        steps=_steps_from(post))


def _rows(data: services.JourneyInput) -> list[dict]:
    rows = [{"kind": s.kind, **{("task_kind" if k == "kind" else k): v for k, v in s.config.items()}}
            for s in data.steps]
    return rows + [{"kind": ""} for _ in range(EDITOR_SPARE_ROWS)]


def _editor(request, data: services.JourneyInput, *, journey: Journey | None = None, errors: dict | None = None,
            status: int = 200):
    from campaigns import channels

    errors = errors or {}
    step_errors = errors.get("steps") if isinstance(errors.get("steps"), dict) else {}
    context = {
        "journey": journey, "data": data, "rows": _rows(data), "errors": errors,
        "step_errors": {int(k) - 1: v for k, v in step_errors.items()},
        "steps_error": errors.get("steps") if isinstance(errors.get("steps"), list) else None,
        "triggers": Trigger.choices, "entry_rules": EntryRule.choices, "periods": EntryPeriod.choices,
        "goals": Goal.choices, "kinds": StepKind.choices, "modes": wording.WAIT_MODES,
        "weekdays": wording.WEEKDAYS, "conditions": wording.CONDITIONS, "task_kinds": wording.task_kinds(),
        "priorities": TaskPriority.choices,
        "channels": [(c, channels.get(c).label) for c in channels.codes()
                     if not getattr(channels.get(c), "sends_to_groups", False)],
        "tags": Tag.objects.order_by("name")[:500], "inside": services.inside_by_version(journey) if journey else {},
    }
    return render(request, "journeys/journey_edit.html", context, status=status)


@scoped_view
def journey_new(request):
    """The template picker (no template asked), then the editor filled from the chosen template."""
    code = request.GET.get("template") or request.POST.get("template")
    if request.method == "POST":
        data = _input_from(request.POST, None)
        try:
            journey = services.create_journey(actor=request.user, data=data)
        except InvalidInput as exc:
            return _editor(request, data, errors=exc.details, status=400)
        messages.success(request, _("Journey saved as a draft: check it, then make it live."))
        return HttpResponseRedirect(reverse("journeys-journey", args=[journey.pk]))
    if code is None:
        return render(request, "journeys/journey_templates.html", {"templates": services.TEMPLATES})
    data = services.from_template(code) if code else services.JourneyInput(name="", trigger=Trigger.JOINED,
                                                                            steps=[])
    return _editor(request, data)


@scoped_view(pk=Journey)
def journey_edit(request, pk: int):
    journey = get_visible_or_404(Journey, request.user, pk=pk)
    if request.method == "POST":
        data = _input_from(request.POST, journey.store)
        try:
            journey = services.save_journey(actor=request.user, journey=journey, data=data)
        except InvalidInput as exc:
            return _editor(request, data, journey=journey, errors=exc.details, status=400)
        messages.success(request, _("Journey saved (version %(version)d).") % {"version": journey.version})
        return HttpResponseRedirect(reverse("journeys-journey", args=[journey.pk]))
    return _editor(request, services.as_input(journey), journey=journey)


@scoped_view(pk=Journey)
def journey_detail(request, pk: int):
    journey = get_visible_or_404(Journey.objects.select_related("store"), request.user, pk=pk)
    figures = queries.journey_figures(journey, request.user)
    runs = (JourneyRun.objects.visible_to(request.user).filter(journey=journey).select_related("member", "step")
            .order_by("-id")[:RUNS_SHOWN])
    steps = {s.pk: s for s in journey.steps.all()}
    for row in figures["steps"]:
        row["summary"] = wording.step_summary(steps[row["id"]])
        row["rate"] = round(100 * row["converted"] / row["reached"]) if row["reached"] else None
    context = {"journey": journey, "figures": figures, "runs": runs, "wording": wording,
               "inside": services.inside_by_version(journey), "can_edit": services.can_edit(request.user, journey),
               "states": JourneyState, "trigger": wording.trigger_summary(journey),
               "time_zone": timezone.get_current_timezone_name()}
    return render(request, "journeys/journey_detail.html", context)


@require_POST
@scoped_view(pk=Journey)
def journey_action(request, pk: int, action: str):
    journey = get_visible_or_404(Journey, request.user, pk=pk)
    do = {"activate": services.activate, "pause": services.pause, "end": services.end}.get(action)
    if do is None:
        raise InvalidInput(details={"action": [action]})
    journey = do(actor=request.user, journey=journey)
    messages.success(request, _("The journey is now: %(state)s.") % {"state": journey.get_state_display()})
    return HttpResponseRedirect(reverse("journeys-journey", args=[journey.pk]))


urlpatterns = [
    path("journeys/", JourneyListView.as_view(), name="journeys-journey-list"),
    path("journeys/new/", journey_new, name="journeys-journey-new"),
    path("journeys/<int:pk>/", journey_detail, name="journeys-journey"),
    path("journeys/<int:pk>/edit/", journey_edit, name="journeys-journey-edit"),
    path("journeys/<int:pk>/<slug:action>/", journey_action, name="journeys-journey-action"),
]
