"""Points: the brand's earning policy, each member's lots and ledger, their balance, and the rewards
catalogue they redeem from.

A lot is a batch of points earned together (one per order, adjustment or cancelled redemption) with
its own expiry; a member's balance is the sum of their lots' `remaining`, kept in `MemberPoints`
whose CHECK (balance >= 0) is what stops two concurrent redemptions from overspending. Every change
to a balance writes one `PointEntry` that says why: a reason code and its parameters, put into words
a member would understand when read (loyalty.points.reasons).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member
from scrm.actors import stored_actor_display
from scrm.scoping import ScopedManager


class ExpiryMode(models.TextChoices):
    NEVER = "never", _("Never")
    AFTER_DAYS = "after_days", _("A number of days after earning")
    PERIOD_END = "period_end", _("At the end of a later year (31 Dec)")


class PointsPolicy(models.Model):
    """How members earn points and when points expire. One row (pk=1), brand-wide.

    Points for an order = floor(Σ line net × category multiplier × points per unit
    × tier multiplier × birthday-month multiplier); a line whose category has no multiplier counts ×1,
    and an order without lines counts its net amount. Other brand currencies count through
    `currency_rates` (reporting-currency units per unit); an order in a currency without a rate earns
    nothing."""

    enabled = models.BooleanField(_("points programme on"), default=True)
    points_per_unit = models.DecimalField(
        _("points per currency unit"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Points for each unit of net spend in the reporting currency, e.g. 1 per ¥1."),
    )
    currency_rates = models.JSONField(
        _("other currencies"),
        default=dict,
        blank=True,
        help_text=_('Reporting-currency units per unit of another brand currency, e.g. {"HKD": 0.92}.'),
    )
    tier_multipliers = models.JSONField(
        _("multiplier per tier rank"),
        default=dict,
        blank=True,
        help_text=_('By tier rank (1 = the first level), e.g. {"1": 1, "4": 1.5}; missing ranks count ×1.'),
    )
    category_multipliers = models.JSONField(
        _("multiplier per product category"),
        default=dict,
        blank=True,
        help_text=_('By the category on order lines, e.g. {"milk powder": 2}; other categories count ×1.'),
    )
    birthday_multiplier = models.DecimalField(
        _("birthday month multiplier"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("1"))],
        help_text=_("Orders placed in the member's birthday month earn this many times the points."),
    )
    expiry_mode = models.CharField(
        _("points expire"), max_length=12, choices=ExpiryMode.choices, default=ExpiryMode.PERIOD_END
    )
    expiry_days = models.PositiveIntegerField(_("days until expiry"), default=365)
    expiry_years = models.PositiveSmallIntegerField(
        _("years until the period end"),
        default=1,
        help_text=_("1: points earned in 2025 expire on 31 Dec 2026."),
    )
    point_value = models.DecimalField(
        _("value of one point"),
        max_digits=8,
        decimal_places=4,
        default=Decimal("0.01"),
        help_text=_("In the reporting currency; used for the points liability."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    store_scope_field = None  # brand-wide setting

    class Meta:
        verbose_name = _("points policy")
        verbose_name_plural = _("points policy")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="points_policy_singleton"),
            models.CheckConstraint(condition=Q(points_per_unit__gte=0), name="points_per_unit_not_negative"),
            models.CheckConstraint(condition=Q(birthday_multiplier__gte=1), name="points_birthday_at_least_1"),
            models.CheckConstraint(condition=Q(expiry_days__gte=1), name="points_expiry_days_positive"),
            models.CheckConstraint(condition=Q(expiry_years__gte=0), name="points_expiry_years_not_negative"),
        ]

    def __str__(self) -> str:
        return str(_("Points policy"))

    @classmethod
    def current(cls) -> PointsPolicy:
        policy = cls.objects.filter(pk=1).first()
        return policy or cls(pk=1)

    def expires_at(self, earned_at: datetime.datetime) -> datetime.datetime | None:
        """When points earned at `earned_at` expire (None: never), in the brand's time zone."""
        if self.expiry_mode == ExpiryMode.NEVER:
            return None
        if self.expiry_mode == ExpiryMode.AFTER_DAYS:
            return earned_at + datetime.timedelta(days=self.expiry_days)
        local = timezone.localtime(earned_at)
        end = datetime.datetime(local.year + self.expiry_years + 1, 1, 1)
        return timezone.make_aware(end)


class LotSource(models.TextChoices):
    ORDER = "order", _("Order")
    ADJUSTMENT = "adjustment", _("Adjustment")
    REDEMPTION_CANCELLED = "redemption_cancelled", _("Cancelled redemption")
    TRANSFER = "transfer", _("Moved from another profile")


class PointLot(models.Model):
    """Points earned together, spent oldest-expiring first. `remaining` goes down as points are
    redeemed, clawed back or expire; `expired` and `clawed_back` say how many went each way."""

    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        db_index=False,
        related_name="point_lots",
    )
    source = models.CharField(_("source"), max_length=24, choices=LotSource.choices)
    order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="point_lots",
    )
    points = models.PositiveIntegerField(_("points earned"))
    remaining = models.PositiveIntegerField(_("points left"))
    expired = models.PositiveIntegerField(_("points expired"), default=0)
    clawed_back = models.PositiveIntegerField(
        _("points taken back"),
        default=0,
        help_text=_("For an order's lot: what refunds have claimed so far, whether or not the balance covered it."),
    )
    basis_amount = models.DecimalField(
        _("net amount earned on"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("The order's net amount when the points were earned; refunds take back points in proportion."),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    earned_at = models.DateTimeField(_("earned at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["expires_at", "earned_at", "id"]
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(source="order"), name="points_lot_once_per_order"),
            models.CheckConstraint(condition=Q(remaining__lte=F("points")), name="points_lot_remaining_within"),
        ]
        indexes = [
            # FIFO spending and the member's open lots.
            models.Index(
                fields=["member", "expires_at", "earned_at"],
                name="points_lot_member_fifo",
                condition=Q(remaining__gt=0),
            ),
            # The hourly expiry sweep and the liability's "expiring soon".
            models.Index(fields=["expires_at"], name="points_lot_due", condition=Q(remaining__gt=0)),
            models.Index(fields=["member", "-earned_at"], name="points_lot_member_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.points} ({self.remaining})"


class EntryKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    EXPIRE = "expire", _("Expired")
    ADJUST = "adjust", _("Adjusted")
    CLAWBACK = "clawback", _("Taken back after a refund")
    REDEMPTION_CANCELLED = "redemption_cancelled", _("Redemption cancelled")
    TRANSFER_OUT = "transfer_out", _("Moved to another profile")
    TRANSFER_IN = "transfer_in", _("Moved from another profile")


class PointEntry(models.Model):
    """One change to a member's balance, with the balance after it and why it happened.
    `lots` lists the lots it touched as [[lot id, points], ...]; `unrecovered` is what a refund
    should have taken back but the balance no longer held."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, db_index=False, related_name="point_entries"
    )
    kind = models.CharField(_("kind"), max_length=24, choices=EntryKind.choices)
    delta = models.IntegerField(_("points"))
    balance_after = models.IntegerField(_("balance after"))
    unrecovered = models.PositiveIntegerField(_("not recovered"), default=0)
    order = models.ForeignKey(
        "orders.Order", verbose_name=_("order"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    redemption = models.ForeignKey(
        "Redemption",
        verbose_name=_("redemption"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="entries",
    )
    lots = models.JSONField(_("lots"), default=list, blank=True)
    explanation = models.CharField(
        _("explanation"),
        max_length=500,
        help_text=_("In the language of whoever wrote it; the history shows the reason."),
    )
    reason_code = models.CharField(_("reason"), max_length=24, blank=True, default="")
    reason_params = models.JSONField(_("reason details"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(_("by (API key or rule)"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        indexes = [
            models.Index(fields=["member", "-created_at", "-id"], name="points_entry_member_recent"),
            models.Index(fields=["order"], name="points_entry_order", condition=Q(order__isnull=False)),
            models.Index(fields=["kind", "-created_at"], name="points_entry_kind_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.delta:+d} {self.kind}"

    @property
    def description(self) -> str:
        """Why, in the reader's language (rows from before reason codes keep their stored text)."""
        from loyalty.points import reasons

        return reasons.describe(self.reason_code, self.reason_params, self.explanation)

    @property
    def actor_display(self) -> str:
        return stored_actor_display(self.actor, self.actor_label)


class MemberPoints(models.Model):
    """A member's balance (the sum of their lots' `remaining`) and lifetime totals. Every write to a
    member's points locks this row first, so balance changes are serialised per member."""

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, primary_key=True, related_name="points"
    )
    balance = models.IntegerField(_("balance"), default=0)
    earned_total = models.BigIntegerField(_("earned in total"), default=0)
    redeemed_total = models.BigIntegerField(_("redeemed in total"), default=0)
    expired_total = models.BigIntegerField(_("expired in total"), default=0)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        verbose_name = _("member points")
        verbose_name_plural = _("member points")
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="points_balance_not_negative")]
        indexes = [models.Index(fields=["-balance"], name="points_balance_high", condition=Q(balance__gt=0))]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.balance}"


class RewardKind(models.TextChoices):
    COUPON = "coupon", _("Coupon")
    GIFT = "gift", _("Gift")
    EARLY_ACCESS = "early_access", _("Early access")


class Reward(models.Model):
    """Something members redeem points for. `stock` empty means unlimited; `per_member_limit`
    counts redemptions not cancelled."""

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=16, choices=RewardKind.choices, default=RewardKind.GIFT)
    points_cost = models.PositiveIntegerField(_("points"), validators=[MinValueValidator(1)])
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: unlimited."))
    per_member_limit = models.PositiveIntegerField(
        _("limit per member"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    starts_at = models.DateTimeField(_("available from"), null=True, blank=True)
    ends_at = models.DateTimeField(_("available until"), null=True, blank=True)
    min_tier_rank = models.PositiveSmallIntegerField(
        _("lowest tier rank"),
        null=True,
        blank=True,
        help_text=_("Empty: every member; 3: the third level and up."),
    )
    description = models.TextField(_("description"), blank=True, default="")
    image_url = models.URLField(_("image address"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    store_scope_field = None  # the catalogue is brand-wide

    class Meta:
        ordering = ["points_cost", "id"]
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        constraints = [
            models.CheckConstraint(condition=Q(points_cost__gte=1), name="reward_cost_positive"),
            models.CheckConstraint(
                condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gte=1), name="reward_limit_positive"
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="reward_window_ordered",
            ),
        ]
        indexes = [models.Index(fields=["is_active", "points_cost"], name="reward_active_cost")]

    def __str__(self) -> str:
        return self.name

    def is_available(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.is_active
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
            and (self.stock is None or self.stock > 0)
        )


class RedemptionStatus(models.TextChoices):
    REDEEMED = "redeemed", _("Redeemed")
    CANCELLED = "cancelled", _("Cancelled")


class Redemption(models.Model):
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="redemptions")
    reward = models.ForeignKey(
        Reward, verbose_name=_("reward"), on_delete=models.PROTECT, db_index=False, related_name="redemptions"
    )
    points = models.PositiveIntegerField(_("points"))
    status = models.CharField(
        _("status"), max_length=12, choices=RedemptionStatus.choices, default=RedemptionStatus.REDEEMED
    )
    store = models.ForeignKey(
        "scrm.Store", verbose_name=_("redeemed at"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("redeemed at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by_label = models.CharField(_("by (API key)"), max_length=100, blank=True, default="")
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cancelled by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    cancel_reason = models.CharField(_("why cancelled"), max_length=200, blank=True, default="")

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        constraints = [models.CheckConstraint(condition=Q(points__gte=1), name="redemption_points_positive")]
        indexes = [
            models.Index(fields=["member", "reward"], name="redemption_member_reward", condition=Q(status="redeemed")),
            models.Index(fields=["-created_at"], name="redemption_recent"),
            models.Index(fields=["reward", "-created_at"], name="redemption_reward_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.reward} ← {self.member_id}"
