"""Journeys (SOP): their definition (trigger, entry rule, goal, steps), its checks, and their lifecycle
draft -> live <-> paused -> ended.

- `validate` refuses a journey with no steps, a wait of zero or negative time, a branch jumping back
  onto itself or an earlier step (a loop) or past the end, a send on a channel that is not set up or
  with text it cannot carry, a task naming a staff member who left; every error says which step and
  which field, and nothing is written.
- `save_journey` writes a draft's steps in place; on a live or paused journey it writes the next
  version's steps and moves the journey to it: members already inside stay on the version they
  entered, new members follow the new one.
- Who may: operators (and brand-wide keys) on every journey; store managers on their own store's
  journeys (a brand-wide journey is read-only to them); clerks read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from journeys.models import (
    CONTENT_MAX,
    MESSAGE_MAX,
    NAME_MAX,
    RULE_KINDS,
    TITLE_MAX,
    EntryPeriod,
    EntryRule,
    Goal,
    Journey,
    JourneyRun,
    JourneyState,
    JourneyStep,
    RepurchaseCycle,
    RunState,
    StepKind,
    TaskKind,
    TaskPolicy,
    TaskPriority,
    Trigger,
)
from members.models import AttributeDefinition, Tag
from scrm import actors, permissions
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.models import STORE_ROLES, Store, User
from scrm.scoping import access_for

RESOURCE = "journeys"
MAX_STEPS = 30
MAX_WAIT_DAYS = 366
EVENT_TRIGGERS = frozenset({Trigger.JOINED, Trigger.TAG_ADDED, Trigger.TIER_CHANGED, Trigger.FIRST_ORDER,
                            Trigger.EVENT_ATTENDED})
DAILY_TRIGGERS = frozenset(Trigger.values) - EVENT_TRIGGERS
WAIT_MODES = ("duration", "weekday", "date", "day_after_trigger")
BRANCH_CONDITIONS = ("tag", "tier", "ordered", "clicked", "replied")
TASK_KINDS = (TaskKind.FOLLOW_UP, TaskKind.WELCOME, TaskKind.BIRTHDAY, TaskKind.REPURCHASE_DUE, TaskKind.DORMANT,
              TaskKind.CUSTOM)


@dataclass
class StepInput:
    kind: str
    config: dict = field(default_factory=dict)


@dataclass
class JourneyInput:
    name: str
    trigger: str
    steps: list[StepInput]
    trigger_params: dict = field(default_factory=dict)
    entry_rule: str = EntryRule.ONCE
    entry_period: str = ""
    goal: str = Goal.NONE
    goal_params: dict = field(default_factory=dict)
    description: str = ""
    store: Store | None = None
    template: str = ""


# --- who may -----------------------------------------------------------------------------------------------

def can_edit(actor, journey: Journey | None = None, store_id: int | None = None) -> bool:
    """Operators and brand-wide keys on every journey; store managers and store keys on their store's."""
    if not permissions.can_write(actor, RESOURCE):
        return False
    target = journey.store_id if journey is not None else store_id
    return access_for(actor).allows_store(target)


def _require_edit(actor, journey: Journey | None = None, store_id: int | None = None) -> None:
    permissions.require_write(actor, RESOURCE)
    if journey is not None and not access_for(actor).allows_store(journey.store_id) and journey.store_id is not None:
        raise NotInScope()
    if not can_edit(actor, journey, store_id):
        raise Forbidden(_("A brand-wide journey is changed by operators; a store's journey by its manager."))


# --- checks ------------------------------------------------------------------------------------------------

def _choice(value, choices, errors: dict, name: str) -> None:
    if value not in choices:
        errors[name] = [_("%(value)s is not one of: %(choices)s.") % {"value": value, "choices": ", ".join(choices)}]


def _int(config: dict, name: str, errors: dict, *, low: int, high: int, required: bool = True) -> int | None:
    value = config.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors[name] = [_("A whole number from %(low)d to %(high)d.") % {"low": low, "high": high}]
        return None
    return value


def _time(config: dict, errors: dict, name: str = "at") -> None:
    value = config.get(name, "09:00")
    try:
        dt.time.fromisoformat(value)
    except (TypeError, ValueError):
        errors[name] = [_("A time of day as HH:MM, in the brand's time zone.")]


def _tag(value, errors: dict, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not Tag.objects.filter(pk=value).exists():
        errors[name] = [_("No tag %(id)s.") % {"id": value}]


def _check_trigger(data: JourneyInput, errors: dict) -> None:
    _choice(data.trigger, Trigger.values, errors, "trigger")
    p = data.trigger_params if isinstance(data.trigger_params, dict) else None
    if p is None:
        errors["trigger_params"] = [_("An object of parameters.")]
        return
    found: dict = {}
    if data.trigger == Trigger.TAG_ADDED:
        _tag(p.get("tag"), found, "tag")
    elif data.trigger == Trigger.JOINED and p.get("channel_code") not in (None, ""):
        if not isinstance(p["channel_code"], str) or len(p["channel_code"]) > 30:
            found["channel_code"] = [_("The state of a channel code (at most 30 characters).")]
    elif data.trigger == Trigger.TIER_CHANGED:
        _int(p, "rank", found, low=1, high=20, required=False)
    elif data.trigger == Trigger.CHILD_BIRTH_MONTH:
        code = p.get("attribute")
        if not isinstance(code, str) or not AttributeDefinition.objects.filter(code=code, type="month").exists():
            found["attribute"] = [_("The code of a custom attribute of type month (the child's birth month).")]
    elif data.trigger == Trigger.REPURCHASE_DUE:
        category = p.get("category")
        if not isinstance(category, str) or not RepurchaseCycle.objects.filter(category=category).exists():
            found["category"] = [_("A category with a repurchase cycle (its days are the cycle's).")]
    elif data.trigger == Trigger.POINTS_EXPIRING:
        _int(p, "days", found, low=1, high=365)
    elif data.trigger == Trigger.DORMANT:
        _int(p, "days", found, low=7, high=1095)
    elif data.trigger == Trigger.EVENT_ATTENDED:
        _int(p, "event", found, low=1, high=2**62, required=False)
        _int(p, "community", found, low=1, high=2**62, required=False)
    elif data.trigger == Trigger.SEGMENT_ENTERED:
        from members.segments.models import Segment

        segment = Segment.objects.filter(pk=p.get("segment")).first() if isinstance(p.get("segment"), int) else None
        if segment is None:
            found["segment"] = [_("Choose the segment whose members enter.")]
        elif data.store is None and segment.store_id is not None:
            found["segment"] = [_("A brand-wide journey needs a brand-wide segment.")]
        elif data.store is not None and segment.store_id not in (None, data.store.pk):
            found["segment"] = [_("The segment belongs to another store.")]
    if found:
        errors["trigger_params"] = found


def _check_entry(data: JourneyInput, errors: dict) -> None:
    _choice(data.entry_rule, EntryRule.values, errors, "entry_rule")
    if data.entry_rule == EntryRule.PER_PERIOD:
        _choice(data.entry_period, EntryPeriod.values, errors, "entry_period")
    elif data.entry_period:
        errors["entry_period"] = [_("Only for once per period: leave it empty.")]
    _choice(data.goal, Goal.values, errors, "goal")
    if data.goal == Goal.TAG:
        found: dict = {}
        _tag((data.goal_params or {}).get("tag"), found, "tag")
        if found:
            errors["goal_params"] = found


def _check_wait(config: dict, errors: dict, *, now: dt.datetime) -> None:
    mode = config.get("mode", "duration")
    _choice(mode, WAIT_MODES, errors, "mode")
    if mode == "duration":
        days = _int(config, "days", errors, low=-10**6, high=MAX_WAIT_DAYS, required=False) or 0
        hours = _int(config, "hours", errors, low=-10**6, high=24 * MAX_WAIT_DAYS, required=False) or 0
        minutes = _int(config, "minutes", errors, low=-10**6, high=60 * 24, required=False) or 0
        if not errors and days * 1440 + hours * 60 + minutes <= 0:
            errors["days"] = [_("A wait is longer than zero: give days, hours or minutes above 0.")]
    elif mode == "weekday":
        _int(config, "weekday", errors, low=0, high=6)
        _time(config, errors)
    elif mode == "date":
        try:
            day = dt.date.fromisoformat(config.get("date"))
        except (TypeError, ValueError):
            errors["date"] = [_("A date as YYYY-MM-DD.")]
        else:
            if day < timezone.localdate(now):
                errors["date"] = [_("The date has passed.")]
        _time(config, errors)
    elif mode == "day_after_trigger":
        days = config.get("days")
        if isinstance(days, int) and not isinstance(days, bool) and days <= 0:
            errors["days"] = [_("Day 1 or later after the trigger: a wait of zero or less is no wait.")]
        else:
            _int(config, "days", errors, low=1, high=MAX_WAIT_DAYS)
        _time(config, errors)


def _check_send(config: dict, errors: dict) -> None:
    from campaigns import channels, content
    from campaigns.links import text as link_text

    code = config.get("channel")
    if code not in channels.codes() or getattr(channels.get(code), "sends_to_groups", False):
        errors["channel"] = [_("Unknown channel %(code)s; known: %(known)s.") % {
            "code": code, "known": ", ".join(c for c in channels.codes()
                                              if not getattr(channels.get(c), "sends_to_groups", False))}]
        return
    channel = channels.get(code)
    if (unavailable := channel.unavailable()) is not None:
        errors["channel"] = [unavailable]
        return
    text = config.get("content")
    if not isinstance(text, str) or not text.strip() or len(text) > CONTENT_MAX:
        errors["content"] = [_("The message, at most %(max)d characters.") % {"max": CONTENT_MAX}]
        return
    try:
        content.check(text, max_bytes=channel.max_text_bytes)
        channel.check(link_text.as_sent(text))
    except InvalidInput as exc:
        errors["content"] = [str(m) for messages in exc.details.values() for m in messages] or [exc.message]


def _check_task(config: dict, errors: dict, store: Store | None) -> None:
    _choice(config.get("kind", TaskKind.FOLLOW_UP), [str(k) for k in TASK_KINDS], errors, "kind")
    for name, limit in (("title", TITLE_MAX), ("message", MESSAGE_MAX)):
        value = config.get(name, "")
        if not isinstance(value, str) or len(value) > limit:
            errors[name] = [_("At most %(max)d characters of text.") % {"max": limit}]
    if config.get("kind") == TaskKind.CUSTOM and not str(config.get("title") or "").strip():
        errors["title"] = [_("A custom task needs a title.")]
    _int(config, "priority", errors, low=1, high=3, required=False)
    _int(config, "due_hours", errors, low=1, high=24 * 30, required=False)
    assignee = config.get("assignee")
    if assignee is not None:
        user = User.objects.filter(pk=assignee).first() if isinstance(assignee, int) else None
        if user is None:
            errors["assignee"] = [_("No staff member %(id)s.") % {"id": assignee}]
        elif not user.is_active:
            errors["assignee"] = [_("%(name)s has left (the account is deactivated): leave the assignee empty (the "
                                    "member's owner, else the store's pool) or name someone else.") % {"name": user}]
        elif user.role not in STORE_ROLES or (store is not None and user.store_id != store.pk):
            errors["assignee"] = [_("%(name)s is not staff of the journey's store.") % {"name": user}]


def _sends_sms(step: StepInput) -> bool:
    return step.kind == StepKind.SEND and isinstance(step.config, dict) and step.config.get("channel") == "sms"


def _check_branch(config: dict, errors: dict, position: int, count: int, earlier: list[StepInput]) -> None:
    condition = config.get("condition")
    _choice(condition, BRANCH_CONDITIONS, errors, "condition")
    if condition == "replied" and not any(_sends_sms(step) for step in earlier):
        errors["condition"] = [_("Replies are heard on SMS: put an SMS send step before this branch.")]
    if condition == "tag":
        _tag(config.get("tag"), errors, "tag")
    elif condition == "tier":
        _int(config, "rank", errors, low=1, high=20)
    goto = config.get("goto")
    if isinstance(goto, bool) or not isinstance(goto, int):
        errors["goto"] = [_("The position of a later step to go to when the condition is met.")]
    elif goto <= position:
        errors["goto"] = [_("Step %(goto)d is this step or an earlier one: a loop. A branch goes to a later step.")
                          % {"goto": goto}]
    elif goto > count:
        errors["goto"] = [_("There is no step %(goto)d (the journey has %(count)d).") % {"goto": goto, "count": count}]


def validate(data: JourneyInput, *, now: dt.datetime | None = None) -> None:
    """Raise InvalidInput naming every bad field (steps by position); return quietly when it is good."""
    now = now or timezone.now()
    errors: dict = {}
    if not isinstance(data.name, str) or not data.name.strip() or len(data.name) > NAME_MAX:
        errors["name"] = [_("A name of at most %(max)d characters.") % {"max": NAME_MAX}]
    _check_trigger(data, errors)
    _check_entry(data, errors)
    steps = list(data.steps or [])
    if not steps:
        errors["steps"] = [_("A journey needs at least one step.")]
    elif len(steps) > MAX_STEPS:
        errors["steps"] = [_("At most %(max)d steps.") % {"max": MAX_STEPS}]
    else:
        found = {}
        for position, step in enumerate(steps, start=1):
            step_errors: dict = {}
            config = step.config if isinstance(step.config, dict) else None
            if config is None:
                step_errors["config"] = [_("An object of settings.")]
            elif step.kind not in StepKind.values:
                _choice(step.kind, StepKind.values, step_errors, "kind")
            elif step.kind == StepKind.WAIT:
                _check_wait(config, step_errors, now=now)
            elif step.kind == StepKind.SEND:
                _check_send(config, step_errors)
            elif step.kind == StepKind.TASK:
                _check_task(config, step_errors, data.store)
            elif step.kind == StepKind.BRANCH:
                _check_branch(config, step_errors, position, len(steps), steps[:position - 1])
            if step_errors:
                found[str(position)] = step_errors
        if found:
            errors["steps"] = found
    if errors:
        raise InvalidInput(details=errors)


# --- writing -----------------------------------------------------------------------------------------------

def _store_for(actor, store: Store | None) -> Store | None:
    access = access_for(actor)
    if access.all_stores:
        return store
    if access.store_id is None or (store is not None and store.pk != access.store_id):
        raise Forbidden(_("You can only make journeys of your own store."))
    return Store.objects.get(pk=access.store_id)


def _write_steps(journey: Journey, version: int, steps: list[StepInput]) -> None:
    JourneyStep.objects.bulk_create([JourneyStep(journey=journey, version=version, position=i, kind=s.kind,
                                                 config=s.config) for i, s in enumerate(steps, start=1)])


@transaction.atomic
def create_journey(*, actor, data: JourneyInput) -> Journey:
    """A draft journey with its steps (version 1)."""
    permissions.require_write(actor, RESOURCE)
    data.store = _store_for(actor, data.store)
    validate(data)
    now = timezone.now()
    journey = Journey.objects.create(
        name=data.name.strip(), description=data.description or "", store=data.store, trigger=data.trigger,
        trigger_params=data.trigger_params, entry_rule=data.entry_rule, entry_period=data.entry_period or "",
        goal=data.goal, goal_params=data.goal_params or {}, template=data.template or "",
        created_by=actors.actor_user(actor), created_by_label=actors.actor_label(actor), created_at=now,
        updated_at=now)
    _write_steps(journey, 1, data.steps)
    return journey


def _locked(journey: Journey, actor) -> Journey:
    _require_edit(actor, journey)
    return Journey.objects.select_for_update().get(pk=journey.pk)


@transaction.atomic
def save_journey(*, actor, journey: Journey, data: JourneyInput) -> Journey:
    """Change a journey. A draft's steps are rewritten; a live or paused journey gets a new version
    (members inside keep theirs). An ended journey is not changed."""
    journey = _locked(journey, actor)
    if journey.state == JourneyState.ENDED:
        raise Conflict(_("This journey has ended: make a new one (or copy it)."), code="journey_ended")
    data.store = journey.store  # a journey stays in its store
    validate(data)
    if journey.state == JourneyState.DRAFT:
        JourneyStep.objects.filter(journey=journey, version=journey.version).delete()
        _write_steps(journey, journey.version, data.steps)
    elif _steps_differ(journey, data.steps):
        journey.version += 1
        _write_steps(journey, journey.version, data.steps)
    journey.name, journey.description = data.name.strip(), data.description or ""
    journey.trigger, journey.trigger_params = data.trigger, data.trigger_params
    journey.entry_rule, journey.entry_period = data.entry_rule, data.entry_period or ""
    journey.goal, journey.goal_params = data.goal, data.goal_params or {}
    journey.updated_at = timezone.now()
    journey.save()
    return journey


def _steps_differ(journey: Journey, steps: list[StepInput]) -> bool:
    current = list(JourneyStep.objects.filter(journey=journey, version=journey.version).order_by("position")
                   .values_list("kind", "config"))
    return current != [(s.kind, s.config) for s in steps]


def current_steps(journey: Journey) -> list[JourneyStep]:
    return list(JourneyStep.objects.filter(journey=journey, version=journey.version).order_by("position"))


def as_input(journey: Journey) -> JourneyInput:
    return JourneyInput(
        name=journey.name, description=journey.description, trigger=journey.trigger,
        trigger_params=journey.trigger_params, entry_rule=journey.entry_rule, entry_period=journey.entry_period,
        goal=journey.goal, goal_params=journey.goal_params, store=journey.store, template=journey.template,
        steps=[StepInput(kind=s.kind, config=s.config) for s in current_steps(journey)])


@transaction.atomic
def activate(*, actor, journey: Journey) -> Journey:
    """Draft or paused -> live, its definition checked again now (a channel switched off since, a date
    passed, a staff member who left). Members enter from now on: an event trigger reads the events
    written after this moment, a daily trigger runs at the next tick. Live already: nothing changes."""
    journey = _locked(journey, actor)
    if journey.state == JourneyState.LIVE:
        return journey
    if journey.state == JourneyState.ENDED:
        raise Conflict(_("This journey has ended: it cannot go live again."), code="journey_ended")
    validate(as_input(journey))
    now = timezone.now()
    if journey.state == JourneyState.DRAFT:
        from journeys.services import entry

        journey.event_cursor = entry.event_high_water()
        journey.activated_at = now
    journey.state, journey.updated_at = JourneyState.LIVE, now
    journey.save()
    return journey


@transaction.atomic
def pause(*, actor, journey: Journey) -> Journey:
    """Live -> paused: nobody enters, nobody moves on (their due steps wait for the resume)."""
    journey = _locked(journey, actor)
    if journey.state == JourneyState.PAUSED:
        return journey
    if journey.state != JourneyState.LIVE:
        raise Conflict(_("Only a live journey can be paused."), details={"state": [journey.state]},
                       code="journey_not_live")
    journey.state, journey.updated_at = JourneyState.PAUSED, timezone.now()
    journey.save(update_fields=["state", "updated_at"])
    return journey


@transaction.atomic
def end(*, actor, journey: Journey) -> Journey:
    """Any state -> ended: the members still inside leave (exited, journey_ended), each a
    journey.exited event. Ended already: nothing changes."""
    journey = _locked(journey, actor)
    if journey.state == JourneyState.ENDED:
        return journey
    now = timezone.now()
    from journeys.services import ticking

    ticking.exit_all(journey=journey, reason="journey_ended", now=now)
    journey.state, journey.ended_at, journey.updated_at = JourneyState.ENDED, now, now
    journey.save(update_fields=["state", "ended_at", "updated_at"])
    return journey


def inside_by_version(journey: Journey) -> dict[int, int]:
    """Members still inside, per version (the editor says who stays on an older one)."""
    from django.db.models import Count

    rows = (JourneyRun.objects.filter(journey=journey, state=RunState.ACTIVE).values("version")
            .annotate(n=Count("id")).order_by("version"))
    return {r["version"]: r["n"] for r in rows}


# --- templates ---------------------------------------------------------------------------------------------

def _send(text: str, channel: str = "outbox") -> StepInput:
    return StepInput(StepKind.SEND, {"channel": channel, "content": text})


def _wait(**config) -> StepInput:
    return StepInput(StepKind.WAIT, config)


def _task(kind: str, **config) -> StepInput:
    """A template's task step; without a priority it takes the brand's for the kind (from_template)."""
    return StepInput(StepKind.TASK, {"kind": kind, "due_hours": 24, **config})


TEMPLATES = {
    "new_customer": {
        "label": gettext_lazy("New customer"),
        "help": gettext_lazy("Welcome a member the day they join, have their guide greet them, follow up after a "
                             "week."),
        "build": lambda: JourneyInput(
            name=_("New customer welcome"), trigger=Trigger.JOINED, goal=Goal.ORDERED, template="new_customer",
            steps=[_send(_("Welcome, {name}! Thank you for joining us.")),
                   _task(TaskKind.WELCOME),
                   _wait(mode="duration", days=7),
                   StepInput(StepKind.BRANCH, {"condition": "ordered", "goto": 5}),
                   _task(TaskKind.FOLLOW_UP, message=_("Ask how the first week went and what they would like."))]),
    },
    "holiday": {
        "label": gettext_lazy("Holiday campaign"),
        "help": gettext_lazy("A segment's members get the holiday's message on the day; who clicked is followed up."),
        "build": lambda: JourneyInput(
            name=_("Holiday greetings"), trigger=Trigger.SEGMENT_ENTERED, entry_rule=EntryRule.PER_PERIOD,
            entry_period=EntryPeriod.YEAR, goal=Goal.ORDERED, template="holiday",
            steps=[_wait(mode="weekday", weekday=5, at="10:00"),
                   _send(_("{name}, happy holidays! Our holiday selection is in store now.")),
                   _wait(mode="duration", days=2),
                   StepInput(StepKind.BRANCH, {"condition": "clicked", "goto": 6}),
                   StepInput(StepKind.EXIT, {}),
                   _task(TaskKind.FOLLOW_UP, message=_("They looked at the holiday selection: offer to keep one."))]),
    },
    "conversion": {
        "label": gettext_lazy("Conversion"),
        "help": gettext_lazy("Turn a new contact into a first order: a reminder on day 3, a guide's call on day 7."),
        "build": lambda: JourneyInput(
            name=_("First order"), trigger=Trigger.JOINED, goal=Goal.ORDERED, template="conversion",
            steps=[_wait(mode="day_after_trigger", days=3, at="11:00"),
                   _send(_("{name}, your welcome gift is waiting in store this week.")),
                   _wait(mode="day_after_trigger", days=7, at="11:00"),
                   _task(TaskKind.FOLLOW_UP, priority=TaskPriority.HIGH,
                         message=_("No first order yet: invite them to pick up the welcome gift."))]),
    },
    "recurring_care": {
        "label": gettext_lazy("Recurring care"),
        "help": gettext_lazy("Every birthday: a greeting in the morning and a call from their guide."),
        "build": lambda: JourneyInput(
            name=_("Birthday care"), trigger=Trigger.BIRTHDAY, entry_rule=EntryRule.PER_PERIOD,
            entry_period=EntryPeriod.YEAR, template="recurring_care",
            steps=[_send(_("Happy birthday, {name}! A small gift waits for you in store.")),
                   _task(TaskKind.BIRTHDAY)]),
    },
}


def from_template(code: str) -> JourneyInput:
    if code not in TEMPLATES:
        raise InvalidInput(details={"template": [_("%(value)s is not one of: %(choices)s.")
                                                 % {"value": code, "choices": ", ".join(TEMPLATES)}]})
    data = TEMPLATES[code]["build"]()  # worded in the language active now
    policy = TaskPolicy.current()
    for step in data.steps:  # the step then holds its priority, which its author may change
        if step.kind == StepKind.TASK and "priority" not in step.config:
            kind = step.config["kind"]
            step.config["priority"] = policy.priority_for(kind) if kind in RULE_KINDS else TaskPriority.NORMAL
    return data
