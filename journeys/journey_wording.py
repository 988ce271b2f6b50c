"""How a journey and its steps read on the screens ("Wait 3 days", "Send on Outbox: …", "If they
carry 新客, go to step 5"), worded when read in the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from journeys.models import Journey, JourneyStep, StepKind, TaskKind

WAIT_MODES = [("duration", gettext_lazy("For a time")), ("weekday", gettext_lazy("Until a weekday")),
              ("date", gettext_lazy("Until a date")),
              ("day_after_trigger", gettext_lazy("Until day N after the trigger"))]
WEEKDAYS = [(0, gettext_lazy("Monday")), (1, gettext_lazy("Tuesday")), (2, gettext_lazy("Wednesday")),
            (3, gettext_lazy("Thursday")), (4, gettext_lazy("Friday")), (5, gettext_lazy("Saturday")),
            (6, gettext_lazy("Sunday"))]
CONDITIONS = [("tag", gettext_lazy("Carries a tag")), ("tier", gettext_lazy("Tier at least")),
              ("ordered", gettext_lazy("Ordered since entering")),
              ("clicked", gettext_lazy("Clicked a link in this journey's messages")),
              ("replied", gettext_lazy("Replied to this journey's messages (SMS)"))]
REASONS = {
    "completed": gettext_lazy("went through every step"), "goal": gettext_lazy("goal met"),
    "exit_step": gettext_lazy("an exit step"), "journey_ended": gettext_lazy("the journey ended"),
    "member_gone": gettext_lazy("merged or erased"), "erased": gettext_lazy("erased"),
    "no_consent": gettext_lazy("no marketing consent"), "no_identity": gettext_lazy("not reachable on the channel"),
    "no_store": gettext_lazy("no home store"), "already_sent": gettext_lazy("already sent this month"),
    "assignee_left": gettext_lazy("the named staff member left: owner or pool"),
    "assignee_elsewhere": gettext_lazy("the named staff member works elsewhere: owner or pool"),
}


def task_kinds():
    from journeys.services.journeys import TASK_KINDS

    labels = dict(TaskKind.choices)
    return [(k, labels[k]) for k in TASK_KINDS]


def reason(code: str) -> str:
    return str(REASONS.get(code, code))


def _wait(config: dict) -> str:
    mode = config.get("mode", "duration")
    at = config.get("at") or "09:00"
    if mode == "duration":
        parts = []
        if config.get("days"):
            parts.append(_("%(n)d days") % {"n": config["days"]})
        if config.get("hours"):
            parts.append(_("%(n)d hours") % {"n": config["hours"]})
        if config.get("minutes"):
            parts.append(_("%(n)d minutes") % {"n": config["minutes"]})
        return _("Wait %(time)s") % {"time": " ".join(parts)}
    if mode == "weekday":
        day = dict(WEEKDAYS).get(config.get("weekday"), "?")
        return _("Wait until %(day)s at %(at)s") % {"day": day, "at": at}
    if mode == "date":
        return _("Wait until %(date)s at %(at)s") % {"date": config.get("date"), "at": at}
    return _("Wait until day %(n)s after the trigger, at %(at)s") % {"n": config.get("days"), "at": at}


def step_summary(step: JourneyStep) -> str:
    config = step.config or {}
    if step.kind == StepKind.WAIT:
        return _wait(config)
    if step.kind == StepKind.SEND:
        text = (config.get("content") or "")[:60]
        return _("Send on %(channel)s: %(text)s") % {"channel": config.get("channel"), "text": text}
    if step.kind == StepKind.TASK:
        kind = dict(TaskKind.choices).get(config.get("kind") or TaskKind.FOLLOW_UP, "")
        who = _("staff member %(id)s") % {"id": config["assignee"]} if config.get("assignee") else \
            _("the member's owner, else the store's pool")
        return _("Task “%(kind)s” for %(who)s") % {"kind": config.get("title") or kind, "who": who}
    if step.kind == StepKind.BRANCH:
        condition = dict(CONDITIONS).get(config.get("condition"), config.get("condition"))
        detail = ""
        if config.get("condition") == "tag":
            from members.models import Tag

            detail = f" {Tag.objects.filter(pk=config.get('tag')).values_list('name', flat=True).first() or ''}"
        elif config.get("condition") == "tier":
            detail = f" {config.get('rank')}"
        return _("If: %(condition)s%(detail)s, go to step %(goto)s; else the next step") % {
            "condition": condition, "detail": detail, "goto": config.get("goto")}
    return _("Exit the journey")


def trigger_summary(journey: Journey) -> str:
    params = journey.trigger_params or {}
    detail = ", ".join(f"{k} {v}" for k, v in params.items())
    label = journey.get_trigger_display()
    return f"{label} ({detail})" if detail else str(label)
