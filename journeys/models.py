"""Staff tasks: the short list of what each clerk does today (greet a birthday, welcome a new member,
follow up a repurchase that is due, wake a dormant member, confirm today's WeCom sends), and the
brand's settings the rules that create them read.

A task belongs to one store. Its assignee is a staff member of that store, or nobody: the store's
pool, which any of its staff may take. What it says is stored as a message code and parameters
(worded when read, so each reader sees it in their language) or, for a custom task, as plain text.
`dedupe_key` is unique: a rule or a journey that runs again inserts nothing twice (ON CONFLICT DO
NOTHING); tasks made by hand have none."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.models import Member
from scrm.models import Store
from scrm.scoping import ScopedManager

NOTE_MAX = 500
TITLE_MAX = 120
MESSAGE_MAX = 1000
DEDUPE_MAX = 200


class TaskKind(models.TextChoices):
    BIRTHDAY = "birthday", _("Birthday greeting")
    WELCOME = "welcome", _("Welcome a new member")
    REPURCHASE_DUE = "repurchase_due", _("Repurchase due")
    DORMANT = "dormant", _("Dormant member")
    CONFIRM_WECOM_SEND = "confirm_wecom_send", _("Confirm today's WeCom sends")
    FOLLOW_UP = "follow_up", _("Follow up")
    CUSTOM = "custom", _("Custom")


class TaskPriority(models.IntegerChoices):
    """Lower sorts first: the Today list shows high before normal before low."""

    HIGH = 1, _("High")
    NORMAL = 2, _("Normal")
    LOW = 3, _("Low")


class TaskState(models.TextChoices):
    OPEN = "open", pgettext_lazy("task state", "Open")
    DONE = "done", _("Done")
    SKIPPED = "skipped", _("Skipped")
    EXPIRED = "expired", _("Expired")


class TaskOutcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    BOUGHT = "bought", _("Bought")
    NOT_INTERESTED = "not_interested", _("Not interested")
    OTHER = "other", _("Other")


class TaskSource(models.TextChoices):
    RULE = "rule", _("Daily rule")
    JOURNEY = "journey", _("Journey")
    MANUAL = "manual", _("Made by hand")


class Task(models.Model):
    """One thing for one staff member (or the store's pool) to do about one member (or the store)."""

    kind = models.CharField(_("kind"), max_length=20, choices=TaskKind.choices)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, null=True, blank=True,
                               related_name="+", db_index=False, help_text=_("Empty for a task about the store."))
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assignee"), on_delete=models.SET_NULL,
                                 null=True, blank=True, related_name="+", db_index=False,
                                 help_text=_("Empty: the store's pool, for any of its staff to take."))
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    code = models.CharField(_("message code"), max_length=32, blank=True, default="",
                            help_text=_("What the task says, worded when read; empty for a custom task."))
    params = models.JSONField(_("message parameters"), default=dict, blank=True)
    title = models.CharField(_("title"), max_length=TITLE_MAX, blank=True, default="")
    message = models.TextField(_("suggested message"), max_length=MESSAGE_MAX, blank=True, default="")
    due_at = models.DateTimeField(_("due at"))
    priority = models.PositiveSmallIntegerField(_("priority"), choices=TaskPriority.choices,
                                                default=TaskPriority.NORMAL)
    state = models.CharField(_("state"), max_length=8, choices=TaskState.choices, default=TaskState.OPEN)
    outcome = models.CharField(_("outcome"), max_length=16, choices=TaskOutcome.choices, blank=True, default="")
    note = models.TextField(_("note"), max_length=NOTE_MAX, blank=True, default="")
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("done by"), on_delete=models.SET_NULL,
                                null=True, blank=True, related_name="+", db_index=False)
    done_by_label = models.CharField(_("done by (API key or rule)"), max_length=100, blank=True, default="")
    source = models.CharField(_("source"), max_length=8, choices=TaskSource.choices, default=TaskSource.MANUAL)
    dedupe_key = models.CharField(_("dedupe key"), max_length=DEDUPE_MAX, unique=True, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+", db_index=False)
    created_by_label = models.CharField(_("created by (API key or rule)"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["priority", "due_at", "id"]
        verbose_name = _("staff task")
        verbose_name_plural = _("staff tasks")
        constraints = [
            models.CheckConstraint(condition=Q(state="done") | Q(outcome=""), name="task_outcome_when_done"),
            models.CheckConstraint(condition=Q(priority__in=[1, 2, 3]), name="task_priority_known"),
        ]
        indexes = [
            # The Today list and "my tasks": an assignee's open tasks by due time.
            models.Index(fields=["assignee", "state", "due_at"], name="task_assignee_state_due"),
            # The store view, the pool and the manager's overdue roll-up.
            models.Index(fields=["store", "state", "due_at"], name="task_store_state_due"),
            # A member's tasks (export, timeline, merge) and the API's member filter.
            models.Index(fields=["member", "-created_at"], name="task_member_recent"),
            # The member's timeline: their done tasks, newest first.
            models.Index(fields=["member", "-done_at"], name="task_member_done", condition=Q(state="done")),
            # Expiry of overdue open tasks and the API's due-date filters brand-wide.
            models.Index(fields=["due_at"], name="task_open_due", condition=Q(state="open")),
            # Figures: what each staff member did, and when.
            models.Index(fields=["done_by", "done_at"], name="task_done_by", condition=Q(state="done")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.state == TaskState.OPEN

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at < timezone.now()

    @property
    def title_text(self) -> str:
        from journeys import wording

        return wording.title(self)

    @property
    def message_text(self) -> str:
        from journeys import wording

        return wording.message(self)


class RepurchaseCycle(models.Model):
    """How often members buy again in one product category (milk powder every 30 days): a member
    whose last order in it is this old, with no order since, gets a repurchase task."""

    category = models.CharField(_("category"), max_length=64, unique=True,
                                help_text=_("As the order lines name it."))
    days = models.PositiveIntegerField(_("days"), validators=[MinValueValidator(1), MaxValueValidator(730)])

    store_scope_field = None  # a brand setting, the same for every store

    class Meta:
        ordering = ["category"]
        verbose_name = _("repurchase cycle")
        verbose_name_plural = _("repurchase cycles")
        constraints = [models.CheckConstraint(condition=Q(days__gte=1) & Q(days__lte=730),
                                              name="repurchase_cycle_days_range")]

    def __str__(self) -> str:
        return f"{self.category}: {self.days}"


# The kinds of task the daily rules and the system make, and the policy's column holding each one's
# priority (defaults: today's list as the brand first had it). Journeys' task steps and tasks made by
# hand name their own priority.
RULE_KINDS = (TaskKind.BIRTHDAY, TaskKind.WELCOME, TaskKind.REPURCHASE_DUE, TaskKind.DORMANT,
              TaskKind.CONFIRM_WECOM_SEND)
PRIORITY_FIELDS = {kind: f"{kind}_priority" for kind in RULE_KINDS}


def _priority_field(verbose_name, default: TaskPriority) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(verbose_name, choices=TaskPriority.choices, default=default)


class TaskPolicy(models.Model):
    """The brand's one row of task settings (created with its defaults when first read)."""

    daily_cap = models.PositiveIntegerField(
        _("tasks a clerk sees a day"), default=30, validators=[MinValueValidator(1), MaxValueValidator(500)],
        help_text=_("The Today list shows this many, by priority then due time; the rest stay queued."))
    dormant_days = models.PositiveIntegerField(
        _("days without an order before a member is dormant"), default=180,
        validators=[MinValueValidator(7), MaxValueValidator(1095)])
    expire_after_days = models.PositiveIntegerField(
        _("days an overdue task stays open"), default=7, validators=[MinValueValidator(1), MaxValueValidator(90)])
    orders_window_days = models.PositiveIntegerField(
        _("days after a done task its orders are counted"), default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)])
    birthday_priority = _priority_field(_("birthday greetings' priority"), TaskPriority.HIGH)
    welcome_priority = _priority_field(_("welcomes' priority"), TaskPriority.HIGH)
    repurchase_due_priority = _priority_field(_("repurchase reminders' priority"), TaskPriority.NORMAL)
    dormant_priority = _priority_field(_("dormant members' priority"), TaskPriority.LOW)
    confirm_wecom_send_priority = _priority_field(_("WeCom send confirmations' priority"), TaskPriority.HIGH)

    store_scope_field = None  # a brand setting

    class Meta:
        verbose_name = _("task settings")
        verbose_name_plural = _("task settings")
        constraints = [models.CheckConstraint(condition=Q(**{f"{name}__in": TaskPriority.values}),
                                              name=f"task_policy_{name}_known")
                       for name in PRIORITY_FIELDS.values()]

    def __str__(self) -> str:
        return str(_("Task settings"))

    @classmethod
    def current(cls) -> TaskPolicy:
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy

    def priority_for(self, kind: str) -> int:
        """The priority the brand gives tasks of `kind` made by the rules and the system."""
        return getattr(self, PRIORITY_FIELDS[kind])


# --- journeys (SOP) ---------------------------------------------------------------------------------------
# A journey is a trigger and an ordered list of steps. Each member who meets the trigger becomes a
# JourneyRun: a row holding their position (step), when it is next due and how it ended, so a tick
# on any number of workers advances it (SELECT ... FOR UPDATE SKIP LOCKED) and a restart loses nothing.
# Steps belong to a version of the journey: editing a live journey writes the next version's steps,
# and the members already inside go on along the version they entered.

NAME_MAX = 100
CONTENT_MAX = 2000
REASON_MAX = 24


class JourneyState(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("journey state", "Draft")
    LIVE = "live", pgettext_lazy("journey state", "Live")
    PAUSED = "paused", pgettext_lazy("journey state", "Paused")
    ENDED = "ended", pgettext_lazy("journey state", "Ended")


class Trigger(models.TextChoices):
    JOINED = "joined", _("Joined the pool")
    TAG_ADDED = "tag_added", _("Tag added")
    BIRTHDAY = "birthday", _("Birthday")
    CHILD_BIRTH_MONTH = "child_birth_month", _("Child's birth month")
    TIER_CHANGED = "tier_changed", _("Tier change")
    FIRST_ORDER = "first_order", _("First order")
    REPURCHASE_DUE = "repurchase_due", _("Repurchase due")
    POINTS_EXPIRING = "points_expiring", _("Points about to expire")
    DORMANT = "dormant", _("No order for N days")
    EVENT_ATTENDED = "event_attended", _("Event attended")
    SEGMENT_ENTERED = "segment_entered", _("Segment entered")


class EntryRule(models.TextChoices):
    ONCE = "once", _("Once per member")
    PER_PERIOD = "per_period", _("Once per member per period")


class EntryPeriod(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


class Goal(models.TextChoices):
    NONE = "none", _("No goal")
    ORDERED = "ordered", _("Placed an order")
    TAG = "tag", _("Carries a tag")


class StepKind(models.TextChoices):
    WAIT = "wait", _("Wait")
    SEND = "send", _("Send a message")
    TASK = "task", _("Staff task")
    BRANCH = "branch", _("Branch")
    EXIT = "exit", _("Exit")


class Journey(models.Model):
    """A playbook: who enters (the trigger and its parameters, the entry rule), what happens to them
    (the steps of `version`), and when they leave early (the goal). `store` empty: brand-wide
    (operators); a store's journey enters only that store's members. Wait times and dates are in the
    brand's time zone (settings.TIME_ZONE)."""

    name = models.CharField(_("name"), max_length=NAME_MAX)
    description = models.CharField(_("description"), max_length=300, blank=True, default="")
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", db_index=False, help_text=_("Empty: brand-wide."))
    state = models.CharField(_("state"), max_length=8, choices=JourneyState.choices, default=JourneyState.DRAFT)
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices)
    trigger_params = models.JSONField(_("trigger parameters"), default=dict, blank=True)
    entry_rule = models.CharField(_("entry rule"), max_length=10, choices=EntryRule.choices, default=EntryRule.ONCE)
    entry_period = models.CharField(_("entry period"), max_length=8, choices=EntryPeriod.choices, blank=True,
                                    default="", help_text=_("For once per period: a member enters again the next."))
    goal = models.CharField(_("goal"), max_length=8, choices=Goal.choices, default=Goal.NONE)
    goal_params = models.JSONField(_("goal parameters"), default=dict, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1,
                                          help_text=_("The steps new members follow; members inside keep theirs."))
    template = models.CharField(_("made from template"), max_length=20, blank=True, default="")
    event_cursor = models.BigIntegerField(_("events read up to"), default=0)
    entered_on = models.DateField(_("daily entry last run"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+", db_index=False)
    created_by_label = models.CharField(_("created by (API key)"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    activated_at = models.DateTimeField(_("went live"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"
    store_scope_shared = True  # a brand-wide journey is read by every store

    class Meta:
        ordering = ["-id"]
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        indexes = [
            models.Index(fields=["state"], name="journey_state", condition=Q(state="live")),
            models.Index(fields=["store", "-id"], name="journey_store_recent"),
        ]

    def __str__(self) -> str:
        return self.name


class JourneyStep(models.Model):
    """One step of one version of a journey, at `position` (1, 2, 3...). `config` holds the kind's
    settings (journeys.services.journeys validates them): a wait's duration, weekday, date or day after
    the trigger and time of day; a send's channel and text; a task's kind, text, priority, due hours and
    assignee; a branch's condition and the later position it jumps to."""

    journey = models.ForeignKey(Journey, verbose_name=_("journey"), on_delete=models.CASCADE, related_name="steps",
                                db_index=False)
    version = models.PositiveIntegerField(_("version"))
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=8, choices=StepKind.choices)
    config = models.JSONField(_("settings"), default=dict, blank=True)

    objects = ScopedManager()
    store_scope_field = "journey__store"
    store_scope_shared = True

    class Meta:
        ordering = ["journey", "version", "position"]
        verbose_name = _("journey step")
        verbose_name_plural = _("journey steps")
        constraints = [models.UniqueConstraint(fields=["journey", "version", "position"], name="journey_step_once")]

    def __str__(self) -> str:
        return f"{self.journey_id} v{self.version} #{self.position} {self.kind}"


class RunState(models.TextChoices):
    ACTIVE = "active", _("In the journey")
    DONE = "done", _("Went through every step")
    EXITED = "exited", _("Left early")
    FAILED = "failed", _("Failed")


class JourneyRun(models.Model):
    """One member's way through one journey: the version and step they are at, when the step is next
    due (`phase` 1: a wait step whose time is running), and how it ended. (journey, member,
    period_key) is unique: '' for a journey entered once per member, the period ('2026-12',
    '2026-Q4', '2026') for once per period. `store` is the member's home store at entry (scoping)."""

    journey = models.ForeignKey(Journey, verbose_name=_("journey"), on_delete=models.CASCADE, related_name="runs",
                                db_index=False)
    version = models.PositiveIntegerField(_("version"))
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+",
                               db_index=False)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    period_key = models.CharField(_("entry period"), max_length=8, blank=True, default="")
    step = models.ForeignKey(JourneyStep, verbose_name=_("current step"), on_delete=models.PROTECT, null=True,
                             blank=True, related_name="+", db_index=False)
    phase = models.PositiveSmallIntegerField(_("phase"), default=0)
    next_due_at = models.DateTimeField(_("next due"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=RunState.choices, default=RunState.ACTIVE)
    reason = models.CharField(_("reason"), max_length=REASON_MAX, blank=True, default="")
    trigger_at = models.DateTimeField(_("triggered at"))
    entered_at = models.DateTimeField(_("entered at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    converted_at = models.DateTimeField(_("goal met at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-id"]
        verbose_name = _("journey run")
        verbose_name_plural = _("journey runs")
        constraints = [
            models.UniqueConstraint(fields=["journey", "member", "period_key"], name="journey_run_once"),
            models.CheckConstraint(condition=Q(state="active") | Q(next_due_at__isnull=True),
                                   name="journey_run_due_when_active"),
        ]
        indexes = [
            # The tick's claim: due active runs, soonest first.
            models.Index(fields=["next_due_at"], name="journey_run_due", condition=Q(state="active")),
            models.Index(fields=["journey", "state"], name="journey_run_journey_state"),
            # A member's runs (export, timeline, erasure, merge).
            models.Index(fields=["member", "-entered_at"], name="journey_run_member"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}/{self.member_id} {self.state}"


class StepOutcome(models.TextChoices):
    WAITED = "waited", _("Waited")
    QUEUED = "queued", _("Message queued")
    TASK = "task", _("Task created")
    SKIPPED = "skipped", _("Skipped")
    YES = "yes", _("Condition met")
    NO = "no", _("Condition not met")
    EXITED = "exited", _("Exited")


class JourneyRunStep(models.Model):
    """A run reaching a step, once: what happened there (a message queued, a task created, the
    branch taken) or why it was skipped. Per-step figures count these rows."""

    run = models.ForeignKey(JourneyRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="history",
                            db_index=False)
    step = models.ForeignKey(JourneyStep, verbose_name=_("step"), on_delete=models.CASCADE, related_name="+",
                             db_index=False)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    at = models.DateTimeField(_("at"))
    outcome = models.CharField(_("outcome"), max_length=8, choices=StepOutcome.choices)
    reason = models.CharField(_("reason"), max_length=REASON_MAX, blank=True, default="")

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        verbose_name = _("journey step reached")
        verbose_name_plural = _("journey steps reached")
        constraints = [models.UniqueConstraint(fields=["run", "step"], name="journey_run_step_once")]
        indexes = [models.Index(fields=["step", "outcome"], name="journey_run_step_figures")]

    def __str__(self) -> str:
        return f"{self.run_id}@{self.step_id} {self.outcome}"


class JourneyCampaign(models.Model):
    """The campaign a send step's messages of one month go out through (the campaigns' deliveries,
    caps, quiet hours and consent): one per (step, month), so its deliveries land in that month's
    partition and a member gets a step's message once a month at most."""

    step = models.ForeignKey(JourneyStep, verbose_name=_("step"), on_delete=models.CASCADE, related_name="+",
                             db_index=False)
    month = models.DateField(_("month"))
    campaign = models.OneToOneField("campaigns.Campaign", verbose_name=_("campaign"), on_delete=models.PROTECT,
                                    related_name="+")

    objects = ScopedManager()
    store_scope_field = "step__journey__store"

    class Meta:
        verbose_name = _("journey campaign")
        verbose_name_plural = _("journey campaigns")
        constraints = [models.UniqueConstraint(fields=["step", "month"], name="journey_campaign_once")]

    def __str__(self) -> str:
        return f"{self.step_id}@{self.month:%Y-%m}"
