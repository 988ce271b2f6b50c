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

    store_scope_field = None  # a brand setting

    class Meta:
        verbose_name = _("task settings")
        verbose_name_plural = _("task settings")

    def __str__(self) -> str:
        return str(_("Task settings"))

    @classmethod
    def current(cls) -> TaskPolicy:
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy
