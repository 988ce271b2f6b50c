"""RFM scores per member and the quintile boundaries they were scored against."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Member
from scrm.scoping import ScopedManager


class RFMSegment(models.TextChoices):
    """From the recency (R) and frequency (F) scores, first match wins:
    champions R≥4 F≥4 · loyal R≥3 F≥3 · new R≥4 F≤2 · need attention R=3 F≤2 ·
    at risk R≤2 F≥3 · hibernating R≤2 F≤2."""

    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    NEW = "new", _("New and promising")
    NEED_ATTENTION = "need_attention", _("Need attention")
    AT_RISK = "at_risk", _("At risk")
    HIBERNATING = "hibernating", _("Hibernating")


class MemberRFM(models.Model):
    """One row per member with a (not fully refunded) order. Recency counts from the last order
    ever; frequency and monetary (net, reporting currency) over the window; scores 1–5 by quintile
    among those members (5 = most recent / most often / most spent)."""

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, primary_key=True, related_name="rfm"
    )
    last_order_at = models.DateTimeField(_("last order at"))
    recency_days = models.PositiveIntegerField(_("days since last order"))
    frequency = models.PositiveIntegerField(_("orders in window"))
    monetary = models.DecimalField(_("net spend in window"), max_digits=14, decimal_places=2)
    r_score = models.PositiveSmallIntegerField(_("recency score"))
    f_score = models.PositiveSmallIntegerField(_("frequency score"))
    m_score = models.PositiveSmallIntegerField(_("monetary score"))
    segment = models.CharField(_("RFM segment"), max_length=16, choices=RFMSegment.choices)
    computed_at = models.DateTimeField(_("computed at"))

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        verbose_name = _("member RFM")
        verbose_name_plural = _("member RFM")
        constraints = [
            models.CheckConstraint(
                condition=Q(r_score__range=(1, 5)) & Q(f_score__range=(1, 5)) & Q(m_score__range=(1, 5)),
                name="rfm_scores_1_to_5",
            ),
        ]
        indexes = [models.Index(fields=["segment"], name="rfm_segment")]

    def __str__(self) -> str:
        return f"{self.member_id} R{self.r_score}F{self.f_score}M{self.m_score}"


class RFMBoundaries(models.Model):
    """The quintile boundaries of the last full refresh (one row, pk=1): members whose orders change
    between refreshes are rescored against them. `recency` holds the smallest day count of quintiles
    1–4 (a member scores one more for each they are below); `frequency` and `monetary` the largest
    value of quintiles 1–4 (one more for each they are above)."""

    window_days = models.PositiveIntegerField(_("window (days)"))
    recency = ArrayField(models.IntegerField(), size=4, verbose_name=_("recency boundaries"))
    frequency = ArrayField(models.IntegerField(), size=4, verbose_name=_("frequency boundaries"))
    monetary = ArrayField(
        models.DecimalField(max_digits=14, decimal_places=2), size=4, verbose_name=_("monetary boundaries")
    )
    members = models.PositiveIntegerField(_("members scored"))
    computed_at = models.DateTimeField(_("computed at"))
    duration_ms = models.PositiveIntegerField(_("took (ms)"), default=0)

    store_scope_field = None

    class Meta:
        verbose_name = _("RFM boundaries")
        verbose_name_plural = _("RFM boundaries")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="rfm_boundaries_singleton")]

    def __str__(self) -> str:
        return f"RFM {self.computed_at:%Y-%m-%d %H:%M}"
