"""Staff tasks on the member's timeline: each done task, who did it and how it went
("Birthday greeting by 李娜: reached"); and each journey the member entered, with how it went."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from journeys.models import JourneyRun, RunState, Task, TaskKind, TaskOutcome, TaskState
from members.timeline import Entry, Window
from scrm.scoping import scope

MESSAGES = {
    "done": _("%(kind)s by %(staff)s: %(outcome)s"),
}
JOURNEY_MESSAGES = {
    "entered": _("Entered the journey %(journey)s (version %(version)s): %(state)s"),
}
RUN_STATES = dict(RunState.choices)
KINDS = dict(TaskKind.choices)
OUTCOMES = dict(TaskOutcome.choices)


def done_source(window: Window):
    rows = scope(Task.objects.filter(member=window.member, state=TaskState.DONE, done_at__isnull=False),
                 window.reader).select_related("done_by")
    return [Entry(at=t.done_at, pk=t.pk, code="done",
                  params={"kind": KINDS.get(t.kind, t.kind),
                          "staff": str(t.done_by) if t.done_by_id else (t.done_by_label or _("System")),
                          "outcome": OUTCOMES.get(t.outcome, t.outcome)},
                  actor_user=t.done_by, actor_label=t.done_by_label)
            for t in window.page(rows, at="done_at", pk="id")]


def journey_source(window: Window):
    rows = scope(JourneyRun.objects.filter(member=window.member), window.reader).select_related("journey")
    return [Entry(at=r.entered_at, pk=r.pk, code="entered",
                  params={"journey": r.journey.name, "version": r.version,
                          "state": str(RUN_STATES.get(r.state, r.state)) + (f" ({r.reason})" if r.reason else "")})
            for r in window.page(rows, at="entered_at", pk="id")]


def register() -> None:
    from members import timeline

    timeline.register("journeys", journey_source, label=_("Journeys"), messages=JOURNEY_MESSAGES,
                      name="journeys-runs", order=66)

    timeline.register("tasks", done_source, label=_("Staff tasks"), messages=MESSAGES, name="journeys-tasks",
                      order=65)
