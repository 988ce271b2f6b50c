"""Referral codes, who referred whom, commission rules and the commissions referred orders earn."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from loyalty.orders.models import Order, OrderChannel
from members.models import Member
from scrm.scoping import ScopedManager

# No 0/O, 1/I/L: a code read aloud in a store or typed from a poster is typed right.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


class ReferralCode(models.Model):
    """A member's own code; their link is settings.SIYU_REFERRAL_LINK with the code in it."""

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="referral_code"
    )
    code = models.CharField(_("code"), max_length=16, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["-id"]
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")

    def __str__(self) -> str:
        return self.code


class ReferralSource(models.TextChoices):
    ORDER = "order", _("First order carrying a code")
    API = "api", _("Recorded explicitly")


class Referral(models.Model):
    """Who brought a member in: one row per referred member (the fission chain follows
    referrer → their own Referral → ...)."""

    member = models.OneToOneField(
        Member, verbose_name=_("referred member"), on_delete=models.CASCADE, related_name="referred_by"
    )
    referrer = models.ForeignKey(
        Member, verbose_name=_("referrer"), on_delete=models.CASCADE, db_index=False, related_name="referrals_made"
    )
    code = models.CharField(_("code used"), max_length=16)
    order = models.ForeignKey(
        Order, verbose_name=_("first order"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(_("source"), max_length=8, choices=ReferralSource.choices)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        constraints = [
            models.CheckConstraint(condition=~Q(member=models.F("referrer")), name="referral_not_self"),
        ]
        indexes = [models.Index(fields=["referrer", "-created_at"], name="referral_referrer_recent")]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.member_id}"


class CommissionRule(models.Model):
    """What a referred order earns: `rate` % of the order's net (or of the net of the lines in
    `category`) plus an optional fixed amount; the most specific active rule wins (channel and
    category set, then channel, then category, then any), then the highest priority."""

    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(
        _("channel"),
        max_length=20,
        choices=OrderChannel.choices,
        blank=True,
        default="",
        help_text=_("Empty: any channel."),
    )
    category = models.CharField(
        _("product category"), max_length=64, blank=True, default="", help_text=_("Empty: any category.")
    )
    # xgettext:no-python-format (a label, not a format string)
    rate = models.DecimalField(_("rate (% of net)"), max_digits=5, decimal_places=2, default=0)
    fixed_amount = models.DecimalField(_("fixed amount"), max_digits=12, decimal_places=2, default=0)
    return_window_days = models.PositiveIntegerField(
        _("return window (days)"), default=7, help_text=_("Commissions become payable when it ends.")
    )
    priority = models.IntegerField(_("priority"), default=0, help_text=_("Higher wins among equally specific rules."))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    store_scope_field = None  # brand-wide policy

    class Meta:
        ordering = ["-is_active", "channel", "category", "-priority", "id"]
        verbose_name = _("commission rule")
        verbose_name_plural = _("commission rules")
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0) & Q(rate__lte=100), name="commission_rule_rate_range"),
            models.CheckConstraint(condition=Q(fixed_amount__gte=0), name="commission_rule_fixed_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class CommissionStatus(models.TextChoices):
    PENDING = "pending", _("Pending (return window)")
    PAYABLE = "payable", _("Payable")
    PAID = "paid", pgettext_lazy("commission", "Paid")
    CANCELLED = "cancelled", _("Cancelled")


class CancelReason(models.TextChoices):
    SELF_REFERRAL = "self_referral", _("Self-referral: the buyer is the referrer")
    SAME_PHONE = "same_phone", _("Self-referral: the buyer has the referrer's phone")
    SAME_IDENTITY = "same_identity", _("Self-referral: the buyer's identity is the referrer's")
    REFUNDED = "refunded", _("Order refunded in full")


class Commission(models.Model):
    """One per referred order. `base_amount` and `original_amount` are the commissionable net and
    the commission when the order arrived; refunds while pending scale `amount` by what is left of
    the base, a full refund cancels it."""

    order = models.OneToOneField(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="commission")
    referrer = models.ForeignKey(
        Member, verbose_name=_("referrer"), on_delete=models.CASCADE, db_index=False, related_name="commissions"
    )
    referred_member = models.ForeignKey(
        Member,
        verbose_name=_("referred member"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    rule = models.ForeignKey(
        CommissionRule, verbose_name=_("rule"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    code = models.CharField(_("code used"), max_length=16)
    category = models.CharField(_("category the base counts"), max_length=64, blank=True, default="")
    # xgettext:no-python-format (a label, not a format string)
    rate = models.DecimalField(_("rate (% of net)"), max_digits=5, decimal_places=2, default=0)
    fixed_amount = models.DecimalField(_("fixed amount"), max_digits=12, decimal_places=2, default=0)
    base_amount = models.DecimalField(_("commissionable net"), max_digits=12, decimal_places=2, default=0)
    original_amount = models.DecimalField(_("commission at order time"), max_digits=12, decimal_places=2, default=0)
    amount = models.DecimalField(_("commission"), max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    status = models.CharField(
        _("status"), max_length=10, choices=CommissionStatus.choices, default=CommissionStatus.PENDING
    )
    cancel_reason = models.CharField(
        _("cancelled because"), max_length=16, choices=CancelReason.choices, blank=True, default=""
    )
    placed_at = models.DateTimeField(_("order placed at"))
    payable_at = models.DateTimeField(_("payable from"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    paid_by = models.ForeignKey(
        "scrm.User",
        verbose_name=_("marked paid by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "referrer__home_store"

    class Meta:
        ordering = ["-placed_at", "-id"]
        verbose_name = _("commission")
        verbose_name_plural = _("commissions")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="commission_amount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["referrer", "status"], name="commission_referrer_status"),
            models.Index(fields=["status", "-placed_at"], name="commission_status_recent"),
            models.Index(fields=["payable_at"], name="commission_pending_due", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.order_id} {self.amount}"

    @property
    def explanation(self) -> str:
        """Why the commission is what it is, in the reader's language."""
        if self.cancel_reason:
            return str(self.get_cancel_reason_display())
        where = _("lines in %(category)s") % {"category": self.category} if self.category else _("the order")
        text = _("%(rate)s%% of %(base)s (net of %(where)s)") % {
            "rate": self.rate.normalize(),
            "base": self.base_amount,
            "where": where,
        }
        if self.fixed_amount:
            text += _(" + %(fixed)s fixed") % {"fixed": self.fixed_amount}
        if self.amount != self.original_amount:
            text += _("; reduced by refunds from %(original)s") % {"original": self.original_amount}
        return str(text)
