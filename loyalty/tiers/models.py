"""The brand's one tier ladder, each member's tier and the history of every move between levels."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member
from scrm.scoping import ScopedManager


class TierBasis(models.TextChoices):
    SPEND = "spend", _("Net spend")
    POINTS = "points", _("Points")


class DowngradePolicy(models.TextChoices):
    """When a member whose qualifying value fell below their level moves down."""

    NONE = "none", _("None: the level follows the qualifying value both ways")
    PERIOD_END = "period_end", _("At the end of the period")
    GRACE = "grace", _("After a grace period")
    NEVER = "never", _("Never: levels are only ever raised")


class TierLadder(models.Model):
    """The ladder: one per brand (id 1), so a level means the same on every platform."""

    name = models.CharField(_("name"), max_length=64, default="")
    basis = models.CharField(_("qualifies by"), max_length=16, choices=TierBasis.choices, default=TierBasis.SPEND)
    window_days = models.PositiveIntegerField(
        _("window (days)"), default=365, help_text=_("Orders (or points) of the last N days count.")
    )
    downgrade_policy = models.CharField(
        _("downgrade policy"), max_length=16, choices=DowngradePolicy.choices, default=DowngradePolicy.NONE
    )
    period_end_month = models.PositiveSmallIntegerField(_("period ends: month"), default=12)
    period_end_day = models.PositiveSmallIntegerField(_("period ends: day"), default=31)
    grace_days = models.PositiveIntegerField(_("grace (days)"), default=30)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    store_scope_field = None  # the brand's ladder, the same for every store

    class Meta:
        verbose_name = _("tier ladder")
        verbose_name_plural = _("tier ladders")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="tier_ladder_one_per_brand"),
            models.CheckConstraint(condition=Q(window_days__gt=0), name="tier_ladder_window_positive"),
        ]

    def __str__(self) -> str:
        return self.name or str(_("Tier ladder"))


class TierLevel(models.Model):
    ladder = models.ForeignKey(
        TierLadder, verbose_name=_("ladder"), on_delete=models.CASCADE, db_index=False, related_name="levels"
    )
    rank = models.PositiveSmallIntegerField(_("rank"))
    name = models.CharField(_("name"), max_length=64)
    threshold = models.DecimalField(
        _("threshold"), max_digits=14, decimal_places=2, help_text=_("Qualifying value needed to reach the level.")
    )
    benefits = models.TextField(_("benefits"), blank=True, default="")
    colour = models.CharField(_("colour"), max_length=7, blank=True, default="", help_text=_("e.g. #8b5e3c"))

    store_scope_field = None

    class Meta:
        ordering = ["rank"]
        verbose_name = _("tier level")
        verbose_name_plural = _("tier levels")
        constraints = [
            models.UniqueConstraint(fields=["ladder", "rank"], name="tier_level_rank_unique"),
            models.UniqueConstraint(fields=["ladder", "name"], name="tier_level_name_unique"),
            models.CheckConstraint(condition=Q(threshold__gte=0), name="tier_level_threshold_not_negative"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="tier_level_rank_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class MemberTier(models.Model):
    """A member's place on the ladder, kept by recalculate_tiers(); one row per member who has held
    a level. `earned_level` is what the qualifying value alone gives, `level` what the member holds
    (raised by the floor, held up by the downgrade policy until `downgrade_due`)."""

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, primary_key=True, related_name="tier"
    )
    level = models.ForeignKey(
        TierLevel, verbose_name=_("level"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # No index on these two: nothing lists by them, and each index costs every write at 10M rows.
    earned_level = models.ForeignKey(
        TierLevel,
        verbose_name=_("earned level"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    floor_level = models.ForeignKey(
        TierLevel,
        verbose_name=_("floor (manual minimum)"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    floor_reason = models.CharField(_("floor reason"), max_length=200, blank=True, default="")
    qualifying_value = models.DecimalField(_("qualifying value"), max_digits=14, decimal_places=2, default=0)
    since = models.DateTimeField(_("at this level since"), default=timezone.now)
    downgrade_due = models.DateTimeField(
        _("downgrade due"),
        null=True,
        blank=True,
        help_text=_("Set while the member is held above the level they earn; the move down happens then."),
    )
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        verbose_name = _("member tier")
        verbose_name_plural = _("member tiers")
        indexes = [
            models.Index(fields=["floor_level"], name="member_tier_floor", condition=Q(floor_level__isnull=False)),
            # The nightly run reads the few members held up by the downgrade policy through this.
            models.Index(
                fields=["downgrade_due"], name="member_tier_downgrade_due", condition=Q(downgrade_due__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.level_id}"


class ChangeReason(models.TextChoices):
    ORDER = "order", _("Order")
    REFUND = "refund", _("Refund or order moved")
    NIGHTLY = "nightly", _("Nightly recalculation")
    POLICY = "policy", _("Ladder or policy change")
    FLOOR = "floor", _("Manual floor")
    GRACE_EXPIRED = "grace_expired", _("Grace period over")
    PERIOD_END = "period_end", _("Period ended")


class TierChange(models.Model):
    """One move between levels (or a floor set by hand), with why and by whom. Level names are
    kept as they were, so history reads the same after the ladder changes."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, db_index=False, related_name="tier_changes"
    )
    # History grows without bound: only the member and time indexes below are worth their writes.
    from_level = models.ForeignKey(
        TierLevel,
        verbose_name=_("from"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    to_level = models.ForeignKey(
        TierLevel,
        verbose_name=_("to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    from_name = models.CharField(_("from"), max_length=64, blank=True, default="")
    to_name = models.CharField(_("to"), max_length=64, blank=True, default="")
    from_rank = models.PositiveSmallIntegerField(_("from rank"), default=0)
    to_rank = models.PositiveSmallIntegerField(_("to rank"), default=0)
    reason = models.CharField(_("reason"), max_length=16, choices=ChangeReason.choices)
    qualifying_value = models.DecimalField(_("qualifying value"), max_digits=14, decimal_places=2, default=0)
    note = models.CharField(_("note"), max_length=200, blank=True, default="")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(_("by (API key or task)"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        indexes = [
            models.Index(fields=["member", "-created_at"], name="tier_change_member_recent"),
            models.Index(fields=["-created_at"], name="tier_change_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_name or '—'} → {self.to_name or '—'}"

    @property
    def is_upgrade(self) -> bool:
        return self.to_rank > self.from_rank

    @property
    def is_downgrade(self) -> bool:
        return self.to_rank < self.from_rank


class TierRun(models.Model):
    """One recalculation of everyone: what it covered, so the next night reads only the members
    whose row can have moved since (orders changed after `cutoff`, orders between the two windows,
    new members, floors, pending downgrades). A run whose `ladder_key` differs from the ladder's
    now (levels, thresholds, basis, window, policy) makes the next run a full one."""

    at = models.DateTimeField(_("as of"))
    cutoff = models.DateTimeField(_("changes read from"), help_text=_("The next run reads changes made since."))
    window_since = models.DateTimeField(_("window from"))
    window_until = models.DateTimeField(_("window until"))
    max_member_id = models.BigIntegerField(_("highest member id seen"), default=0)
    ladder_key = models.CharField(_("ladder fingerprint"), max_length=64)
    full = models.BooleanField(_("everyone read"), default=True)
    candidates = models.PositiveIntegerField(_("members read"), default=0)
    members_written = models.PositiveIntegerField(_("rows written"), default=0)
    upgrades = models.PositiveIntegerField(_("upgrades"), default=0)
    downgrades = models.PositiveIntegerField(_("downgrades"), default=0)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    store_scope_field = None  # the brand's runs

    class Meta:
        ordering = ["-id"]
        verbose_name = _("tier recalculation run")
        verbose_name_plural = _("tier recalculation runs")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} ({'full' if self.full else 'incremental'})"
