"""RFM scores per member and the quintile boundaries they were scored against; the cockpit's summaries
(members joined per day, 5A stage moves, sales per day, buyers per period, campaign members per
period, members active per period) and when each was rebuilt."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Member
from scrm.models import Store
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


# --- the cockpit's summaries -------------------------------------------------------------------------
# Each is rebuilt by insights.cockpit.services from the rows it sums (days are the brand's local
# dates, settings.TIME_ZONE); the cockpit reads them, and its drill-downs read the live rows.


class MemberDimension(models.TextChoices):
    SOURCE = "source", _("Source")
    STATE = "state", _("Channel code")
    TOTAL = "total", _("Every member")
    CONVERTED = "bought", _("Converted")


class DailyMembers(models.Model):
    """Live members who joined on `day`, per home store and per key of one dimension: by source
    (every member once), or by the state of a channel code they were added through (a member once
    per state); and, under "total" on the day of the refresh, every live member of the store
    whenever they joined (what the source rows of every day add up to: the pool at a day is this
    less those who joined after it, so a reading sums the recent days only). "bought": members
    with a first order (the activity summary's), on the later of the day they joined and the day of
    that order, the day from which they count as converted members (rebuilt with the activity)."""

    day = models.DateField(_("day"))
    store = models.ForeignKey(
        Store, verbose_name=_("home store"), on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_index=False,
    )
    dimension = models.CharField(_("dimension"), max_length=8, choices=MemberDimension.choices)
    key = models.CharField(_("key"), max_length=64)
    members = models.PositiveIntegerField(_("members"))

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        verbose_name = _("members joined per day")
        verbose_name_plural = _("members joined per day")
        constraints = [
            models.UniqueConstraint(
                fields=["dimension", "day", "store", "key"], name="daily_members_unique", nulls_distinct=False
            ),
        ]
        indexes = [models.Index(fields=["store", "dimension", "day"], name="daily_members_store")]

    def __str__(self) -> str:
        return f"{self.day} {self.dimension}={self.key}: {self.members}"


class StageMove(models.Model):
    """A member's move into a 5A stage on a day (from the member's timeline: a profile change of the
    stage), with the member's home store as of the refresh. One row per member, day and stage."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, db_index=False,
                               related_name="+")
    day = models.DateField(_("day"))
    stage = models.CharField(_("moved into"), max_length=10)
    store = models.ForeignKey(
        Store, verbose_name=_("home store"), on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_index=False,
    )

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        verbose_name = _("5A stage move")
        verbose_name_plural = _("5A stage moves")
        constraints = [models.UniqueConstraint(fields=["member", "day", "stage"], name="stage_move_unique")]
        indexes = [models.Index(fields=["day", "stage"], name="stage_move_day")]

    def __str__(self) -> str:
        return f"{self.member_id} → {self.stage} {self.day}"


class BuyerKind(models.TextChoices):
    MEMBER = "member", _("Pool member")
    OTHER = "other", _("Not in the pool")


class DailySales(models.Model):
    """Orders placed on `day` per channel, split by pool members (counted under their home store)
    and other buyers (under the order's store): orders not fully refunded and GMV net of refunds,
    both in the reporting currency."""

    day = models.DateField(_("day"))
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=20)
    buyer = models.CharField(_("buyer"), max_length=6, choices=BuyerKind.choices)
    orders = models.PositiveIntegerField(_("orders"))
    gmv = models.DecimalField(_("GMV (net)"), max_digits=16, decimal_places=2)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        verbose_name = _("sales per day")
        verbose_name_plural = _("sales per day")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "store", "channel", "buyer"], name="daily_sales_unique", nulls_distinct=False
            ),
        ]
        indexes = [models.Index(fields=["store", "day"], name="daily_sales_store")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.buyer}: {self.gmv}"


class PeriodBuyers(models.Model):
    """Distinct buyers of one period (first and last day, inclusive) per channel ('' = every
    channel), for the whole brand (`whole_brand`) or one store: pool members who bought (under
    their home store), other buyers (distinct buyer identities on orders without a member, and
    each order with no identity, under the order's store), members with two or more orders, and
    members who also bought in the period of the same length before. Kept for the cockpit's preset
    periods; other periods are counted live."""

    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    whole_brand = models.BooleanField(_("whole brand"), default=False)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_index=False,
    )
    channel = models.CharField(_("channel"), max_length=20, blank=True)
    members = models.PositiveIntegerField(_("pool members who bought"))
    others = models.PositiveIntegerField(_("other buyers"))
    repeat = models.PositiveIntegerField(_("members with two or more orders"))
    returning = models.PositiveIntegerField(_("members who bought in the period before too"))
    computed_at = models.DateTimeField(_("computed at"))

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        verbose_name = _("buyers per period")
        verbose_name_plural = _("buyers per period")
        constraints = [
            models.UniqueConstraint(
                fields=["start", "end", "whole_brand", "store", "channel"], name="period_buyers_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start}–{self.end} {self.channel or '*'}: {self.members}"


class CampaignSet(models.TextChoices):
    """Which campaigns started in a period a row of PeriodCampaignMembers counts, as the cockpit's
    drill-down names them (insights.segments, "campaigns_part"): every campaign (the whole brand),
    the brand's and the store's (an operator cut to the store), or the store's own (a store role)."""

    ALL = "all", _("Every campaign")
    BRAND_AND_STORE = "brand+", _("The brand's and the store's")
    STORE = "store:", _("The store's own")


class PeriodCampaignMembers(models.Model):
    """Distinct live members in each part of the campaigns started in one period (first and last day,
    inclusive): targeted (any delivery), suppressed, held out, sent, delivered, clicked and converted
    (an order whose last touch is one of the campaigns), as the "campaigns_part" condition selects
    them; a member who got two campaigns counts once. For the whole brand (`whole_brand`, every
    campaign) or one home store (the brand's and the store's campaigns, or the store's own). Kept for
    the cockpit's preset periods; counts only, no member ids, so a member's erasure has nothing here
    to delete (the next rebuild counts live members only)."""

    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    whole_brand = models.BooleanField(_("whole brand"), default=False)
    store = models.ForeignKey(
        Store, verbose_name=_("home store"), on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_index=False,
    )
    campaigns = models.CharField(_("campaigns"), max_length=8, choices=CampaignSet.choices)
    targeted = models.PositiveIntegerField(_("targeted"))
    suppressed = models.PositiveIntegerField(_("suppressed"))
    held_out = models.PositiveIntegerField(_("held out"))
    sent = models.PositiveIntegerField(_("sent"))
    delivered = models.PositiveIntegerField(_("delivered"))
    clicked = models.PositiveIntegerField(_("clicked"))
    converted = models.PositiveIntegerField(_("converted"))
    computed_at = models.DateTimeField(_("computed at"))

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        verbose_name = _("campaign members per period")
        verbose_name_plural = _("campaign members per period")
        constraints = [
            models.UniqueConstraint(
                fields=["start", "end", "whole_brand", "store", "campaigns"], name="period_campaign_members_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start}–{self.end} {self.campaigns}: {self.targeted}"


class SummaryRun(models.Model):
    """When each cockpit summary was last rebuilt (what the cockpit shows as its figures' age), how
    long it took, and for the stage moves the last timeline entry read."""

    name = models.CharField(_("summary"), max_length=32, primary_key=True)
    refreshed_at = models.DateTimeField(_("refreshed at"))
    duration_ms = models.PositiveIntegerField(_("took (ms)"), default=0)
    watermark = models.BigIntegerField(_("last row read"), default=0)

    store_scope_field = None

    class Meta:
        verbose_name = _("cockpit summary run")
        verbose_name_plural = _("cockpit summary runs")

    def __str__(self) -> str:
        return f"{self.name} {self.refreshed_at:%Y-%m-%d %H:%M}"


class ActivityKind(models.TextChoices):
    """What a member did (or had done to them) on a day, as the cockpit's activity summary keeps it."""

    COMMUNITY_JOINED = "community_joined", _("Joined an interest group")
    SIGNED_UP = "signed_up", _("Signed up for an event")
    CHECKED_IN = "checked_in", _("Checked in at an event")
    POSTED = "posted", _("Published a creator post")
    DELETED_STAFF = "deleted_staff", _("Deleted a staff member on WeCom")
    SERVED = "served", _("Served: a staff task about them done")


class MemberActivity(models.Model):
    """One member's activity of one kind on one day (brand time zone): how many rows of it, a value
    (a creator post's media value), and the member's home store as of the refresh. Rebuilt by
    insights.cockpit.services.refresh_activity from the rows it counts; the cockpit counts distinct
    members over days, its drill-downs read the live rows."""

    kind = models.CharField(_("kind"), max_length=16, choices=ActivityKind.choices)
    day = models.DateField(_("day"))
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.DO_NOTHING, db_constraint=False,
                               db_index=False, related_name="+")
    store = models.ForeignKey(
        Store, verbose_name=_("home store"), on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True,
        related_name="+", db_index=False,
    )
    rows = models.PositiveIntegerField(_("rows"))
    value = models.DecimalField(_("value"), max_digits=16, decimal_places=2, default=0)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        verbose_name = _("member activity per day")
        verbose_name_plural = _("member activity per day")
        constraints = [models.UniqueConstraint(fields=["kind", "day", "member"], name="member_activity_unique")]
        # The unique key (kind, day, member) serves the brand-wide reads by kind and day; (member, kind)
        # the quick refresh's "no first order yet" probe and a member's export and erasure, which the
        # unique key would answer by reading every row of the kind.
        indexes = [models.Index(fields=["store", "kind", "day"], name="member_activity_store"),
                   models.Index(fields=["member", "kind"], name="member_activity_member")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind} {self.day}"


class StaffMetric(models.TextChoices):
    MEMBERS_ADDED = "members_added", _("Members added")
    TASKS = "tasks", _("Tasks created")
    TASKS_DONE = "tasks_done", _("Tasks done")
    EVENTS_RUN = "events_run", _("Events run")
    SALES = "sales", _("Sales credited")


class StaffDay(models.Model):
    """Per day (brand time zone), store and staff member (none: the store's pool or nobody): members
    they added, tasks (by the day they were created, with their state and outcome as of the refresh,
    `key` the kind or outcome), events of the communities they own, and orders credited to them
    (`amount`: GMV net of refunds). The store page's leaderboard and the cockpit's task figures."""

    day = models.DateField(_("day"))
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True,
        related_name="+", db_index=False,
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff"), on_delete=models.DO_NOTHING, db_constraint=False, null=True,
        blank=True, related_name="+", db_index=False,
    )
    metric = models.CharField(_("metric"), max_length=16, choices=StaffMetric.choices)
    key = models.CharField(_("key"), max_length=32, blank=True, default="")
    n = models.PositiveIntegerField(_("count"))
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=0)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        verbose_name = _("staff figures per day")
        verbose_name_plural = _("staff figures per day")
        indexes = [models.Index(fields=["metric", "day"], name="staff_day_metric"),
                   models.Index(fields=["store", "metric", "day"], name="staff_day_store")]

    def __str__(self) -> str:
        return f"{self.day} {self.staff_id} {self.metric}={self.n}"


class PeriodActivity(models.Model):
    """Distinct live members with an activity of one kind (ActivityKind, or "moved:<stage>" for a 5A
    stage move) in one window (first and last day, inclusive), with the rows and their value: for
    the whole brand (`whole_brand`) or one home store. Kept for the cockpit's preset periods and the
    periods before them, each day of the last 90 and each week of the 365-day preset (its chart's
    points), from the activity and stage move summaries, so a reading counts a few rows whatever the
    number of members; other windows are counted from those summaries live. Counts only, no member
    ids."""

    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    whole_brand = models.BooleanField(_("whole brand"), default=False)
    store = models.ForeignKey(
        Store, verbose_name=_("home store"), on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=16)
    members = models.PositiveIntegerField(_("members"))
    rows = models.PositiveIntegerField(_("rows"))
    value = models.DecimalField(_("value"), max_digits=16, decimal_places=2, default=0)
    computed_at = models.DateTimeField(_("computed at"))

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        verbose_name = _("activity per period")
        verbose_name_plural = _("activity per period")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "start", "end", "whole_brand", "store"], name="period_activity_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start}–{self.end} {self.kind}: {self.members}"
