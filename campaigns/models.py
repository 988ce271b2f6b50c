"""Campaigns and their delivery ledger.

A campaign sends one text to a segment's members through one channel. Sending it writes one
Delivery per (campaign, member) in one INSERT ... SELECT: the table is the outbox, and its state
machine (pending, sending, sent, failed, suppressed, held_out) says for every recipient what
happened or why not. Deliveries grow with every send, so the table is partitioned by month
(`send_month`, the month the campaign started sending; campaigns/partitions.py keeps the months
ahead). The built-in outbox channel writes OutboxMessage rows, one per delivery key.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member, StaffRelation
from members.segments.models import Segment, SegmentSnapshot
from scrm.models import Store
from scrm.scoping import ScopedManager

ERROR_MAX = 500  # characters of a provider's answer kept on a failed delivery


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Repeat(models.TextChoices):
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")
    MONTHLY = "monthly", _("Every month")


class Purpose(models.TextChoices):
    """What a campaign is for. Marketing (every campaign an operator writes) needs the member's
    marketing consent for the channel and counts toward the frequency caps. Transactional is a
    service message about something the member asked for (a reminder of an event they signed up for,
    of a booking they made): only campaigns.services.notices makes them, never a form or the API. It
    needs no marketing consent and neither is held back by nor counts toward the caps (the policy's
    or a season's); an explicit "no" to messages on its channel (or on every channel), an erasure, a
    merge, a minor without a guardian's consent and no reachable address still stop it, and quiet
    hours still defer it (campaigns.services.respect, sending)."""

    MARKETING = "marketing", _("Marketing")
    TRANSACTIONAL = "transactional", _("Service message (transactional)")


# created_by_label of the campaigns made by code, which tell the list's kinds apart (queries.KINDS).
NOTICE_LABEL = "notice:"  # "notice:<dedupe key>": a service notice (campaigns.services.notices)
JOURNEY_LABEL = "journey:"  # "journey:<id>": a journey's send step (journeys.services.ticking)


class Campaign(models.Model):
    """A mass message to a segment. `store` empty: brand-wide (operators); a store's campaign is its
    manager's, and reaches only that store's members. Counts by state are read from the deliveries
    (campaigns.queries.counts_by_state), never stored beside them."""

    name = models.CharField(_("name"), max_length=100)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False,
    )
    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    snapshot = models.ForeignKey(
        SegmentSnapshot, verbose_name=_("segment snapshot"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", help_text=_("The segment's members when sending started."),
    )
    channel = models.CharField(_("channel"), max_length=24)
    content = models.TextField(_("content"), help_text=_("Personal fields: {name}, {tier}, {points}."))
    attachments = models.JSONField(
        _("attachments"), default=list, blank=True,
        help_text=_("Images, links and mini-program cards sent after the text, in order (campaigns.attachments)."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    holdout_share = models.DecimalField(
        _("holdout share"), max_digits=3, decimal_places=2, default=0,
        validators=[MinValueValidator(0), MaxValueValidator(0.5)],
        help_text=_("Share of the segment kept out at random, to measure the campaign against (0 to 0.5)."),
    )
    send_month = models.DateField(_("send month"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+",
    )
    created_by_label = models.CharField(_("created by (API key)"), max_length=100, blank=True, default="")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approved by"), on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+",
    )
    approved_by_label = models.CharField(_("approved by (API key)"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    last_error = models.CharField(
        _("why it did not start"), max_length=500, blank=True, default="",
        help_text=_("Set when a scheduled campaign could not start (an empty or deleted segment)."),
    )
    started_at = models.DateTimeField(_("sending started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # A recurring campaign is a series: it never sends itself; the tick writes one run (a child
    # campaign with `parent` and `occurrence_at`) per occurrence (campaigns.services.recurrence).
    repeat = models.CharField(_("repeats"), max_length=8, choices=Repeat.choices, blank=True, default="")
    repeat_weekdays = ArrayField(
        models.PositiveSmallIntegerField(), verbose_name=_("on weekdays"), default=list, blank=True,
        help_text=_("Weekly: 0 Monday to 6 Sunday."),
    )
    repeat_day = models.PositiveSmallIntegerField(
        _("on day of the month"), null=True, blank=True,
        help_text=_("Monthly: 1 to 31; a shorter month sends on its last day."),
    )
    repeat_time = models.TimeField(_("at time"), null=True, blank=True)
    repeat_start = models.DateField(_("from"), null=True, blank=True)
    repeat_until = models.DateField(_("until"), null=True, blank=True)
    repeat_count = models.PositiveIntegerField(_("runs at most"), null=True, blank=True)
    next_occurrence_at = models.DateTimeField(_("next run"), null=True, blank=True)
    runs_created = models.PositiveIntegerField(_("runs so far"), default=0)
    parent = models.ForeignKey(
        "self", verbose_name=_("series"), on_delete=models.PROTECT, null=True, blank=True, related_name="runs",
        db_index=False,  # campaign_run_once serves it
    )
    occurrence_at = models.DateTimeField(_("occurrence"), null=True, blank=True)
    purpose = models.CharField(
        _("purpose"), max_length=13, choices=Purpose.choices, default=Purpose.MARKETING,
        db_default=Purpose.MARKETING,
        help_text=_("Marketing, or a service message (a reminder of an event or a booking): set by the system."),
    )
    expires_at = models.DateTimeField(
        _("pointless after"), null=True, blank=True,
        help_text=_("A notice's deliveries not sent by then (the event or booking has begun) are suppressed as "
                    "expired."),
    )

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_share__gte=0) & Q(holdout_share__lte=0.5), name="campaign_holdout_share_range"
            ),
            # One run per occurrence of a series, whatever the number of ticks creating it at once.
            models.UniqueConstraint(fields=["parent", "occurrence_at"], name="campaign_run_once"),
        ]
        indexes = [
            # The tick's due campaigns (scheduled and due, or sending).
            models.Index(fields=["status", "scheduled_at"], name="campaign_status_due"),
            models.Index(fields=["store", "-id"], name="campaign_store_recent"),
            # The tick's due series.
            models.Index(fields=["next_occurrence_at"], name="campaign_series_due",
                         condition=Q(next_occurrence_at__isnull=False)),
            # A notice's hand-over looks its key up (=), the list's kinds its prefix (LIKE 'notice:%'):
            # the pattern operator class serves both.
            models.Index(fields=["created_by_label"], name="campaign_label", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return self.name


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Waiting for staff confirmation")
    FAILED = "failed", _("Failed")
    SUPPRESSED = "suppressed", _("Suppressed")
    HELD_OUT = "held_out", _("Held out")


class DeliveryReason(models.TextChoices):
    """Why a delivery was suppressed, deferred or failed: nothing is dropped without one."""

    ERASED = "erased", _("Member erased")
    MERGED = "merged", _("Member merged into another")
    OPTED_OUT = "opted_out", _("Opted out")
    NO_CONSENT = "no_consent", _("No consent for this channel")
    NO_IDENTITY = "no_identity", _("No reachable identity for this channel")
    MINOR = "minor_no_guardian", _("Minor without guardian consent")
    NOT_IN_STORE = "not_in_store", _("Not a member of the campaign's store")
    CAP_REACHED = "cap_reached", _("Frequency cap reached")
    QUIET_HOURS = "quiet_hours", _("Deferred: quiet hours")
    CANCELLED = "cancelled", _("Campaign cancelled")
    PROVIDER_ERROR = "provider_error", _("The channel refused it")
    ATTEMPTS_EXHAUSTED = "attempts_exhausted", _("Retries exhausted")
    NOT_A_FRIEND = "not_a_friend", _("No longer the staff member's WeCom contact")
    ALREADY_RECEIVED = "already_received", _("Already received another mass message (WeCom's limit)")
    NOT_CONFIRMED = "not_confirmed", _("The staff member did not send it in time")
    WECOM_LIMIT = "wecom_limit", _("WeCom's limit of mass messages per customer reached")
    EXPIRED = "expired", _("Too late: what it reminds of has begun")


class Delivery(models.Model):
    """One recipient of one campaign. The table is partitioned by `send_month` (monthly ranges), so
    the key carries it; (campaign, member, send_month) is unique, and a campaign has one send month,
    so a member gets one row per campaign. `next_attempt_at` is when a pending row is due (a retry's
    backoff or the end of quiet hours); `claimed_at` is the lease of a sending row."""

    pk = models.CompositePrimaryKey("send_month", "id")
    send_month = models.DateField(_("send month"))
    id = models.BigIntegerField(
        db_default=models.Func(models.Value("campaigns_delivery_id_seq"), function="nextval",
                               output_field=models.BigIntegerField()),
    )
    # No database foreign keys: their per-row checks were most of a fan-out's time (100k rows: 7.4 s
    # with them, 2.9 s without), the fan-out reads both ends in the statement that writes the rows, and
    # members are erased, never deleted (a deleted campaign's rows go through the ORM's cascade).
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, db_index=False, db_constraint=False,
        related_name="deliveries",
    )
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, db_index=False, db_constraint=False,
        related_name="+",
    )
    state = models.CharField(_("state"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    reason = models.CharField(_("reason"), max_length=20, choices=DeliveryReason.choices, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    relation = models.ForeignKey(
        StaffRelation, verbose_name=_("through relation"), on_delete=models.SET_NULL, null=True, blank=True,
        db_index=False, db_constraint=False, related_name="+",
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sent by staff"), on_delete=models.SET_NULL, null=True,
        blank=True, db_index=False, db_constraint=False, related_name="+",
    )
    provider_message_id = models.CharField(_("provider message id"), max_length=128, blank=True, default="")
    error = models.CharField(_("error"), max_length=ERROR_MAX, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "campaign__store"

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member", "send_month"], name="delivery_once_per_member"),
        ]
        indexes = [
            # A campaign's due rows (the tick's claim) and whether any is left; leases to settle.
            models.Index(fields=["campaign", "next_attempt_at"], name="delivery_open", condition=Q(state="pending")),
            models.Index(fields=["claimed_at"], name="delivery_leased", condition=Q(state="sending")),
            # A member's sends (caps, export, timeline).
            models.Index(fields=["member", "sent_at"], name="delivery_member_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.member_id} {self.state}"


class OutboxMessage(models.Model):
    """A message the built-in outbox channel sent: one per delivery key (campaign, member), so a
    retried send finds the row it already wrote instead of writing a second."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    delivery_id = models.BigIntegerField(_("delivery"))
    address = models.CharField(_("address"), max_length=160, blank=True, default="")
    text = models.TextField(_("text"))
    attachments = models.JSONField(_("attachments"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "campaign__store"

    class Meta:
        ordering = ["-id"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "member"], name="outbox_once_per_delivery"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.member_id}"


class CampaignImage(models.Model):
    """An image uploaded for campaign attachments (JPG or PNG, at most 10 MB: WeCom's limit), kept
    in the default storage under campaigns/images/. A campaign's attachments name it by id. WeCom
    needs it uploaded as temporary media at send time: the media_id is valid three days, so it is
    kept here with its upload time and reused while valid (campaigns.services.images)."""

    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False, help_text=_("Empty: brand-wide (usable by every campaign)."),
    )
    file = models.FileField(_("file"), upload_to="campaigns/images/", max_length=200)
    name = models.CharField(_("file name"), max_length=120)
    content_type = models.CharField(_("type"), max_length=20)
    size = models.PositiveIntegerField(_("bytes"))
    width = models.PositiveIntegerField(_("width"), default=0)
    height = models.PositiveIntegerField(_("height"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    wecom_media_id = models.CharField(_("WeCom media id"), max_length=128, blank=True, default="")
    wecom_uploaded_at = models.DateTimeField(_("uploaded to WeCom"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.SET_NULL, null=True,
        blank=True, related_name="+", db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-id"]
        verbose_name = _("campaign image")
        verbose_name_plural = _("campaign images")
        indexes = [models.Index(fields=["store", "-id"], name="campaign_image_store")]

    def __str__(self) -> str:
        return self.name


class WecomLimit(models.TextChoices):
    """WeCom's own limit of customer mass messages a customer receives from the corp (path/92135):
    as many per calendar month as the month has days, which an admin can tighten to 7 a week or 1 a
    day; older pages said 4 per calendar month. Siyu counts its own WeCom sends against it."""

    OFF = "off", _("Off")
    MONTH_DAYS = "month_days", _("As many per calendar month as the month has days (WeCom's default)")
    WEEK_7 = "week_7", _("7 per week")
    DAY_1 = "day_1", _("1 per day")
    MONTH_4 = "month_4", _("4 per calendar month (WeCom's older rule)")


class SendPolicy(models.Model):
    """How often a member may be messaged, across every campaign and channel (0: no cap), counted in
    calendar days in settings.TIME_ZONE, and the quiet hours when nothing is sent (a send due then
    waits for the end of the window). One row (pk 1), the brand's."""

    daily_cap = models.PositiveSmallIntegerField(_("messages per day"), default=1)
    weekly_cap = models.PositiveSmallIntegerField(_("messages per week"), default=3)
    monthly_cap = models.PositiveSmallIntegerField(_("messages per month"), default=8)
    quiet_start = models.TimeField(_("quiet hours start"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours end"), null=True, blank=True)
    max_attempts = models.PositiveSmallIntegerField(
        _("attempts per delivery"), default=5, validators=[MinValueValidator(1)]
    )
    wecom_limit = models.CharField(
        _("WeCom's per-customer limit"), max_length=12, choices=WecomLimit.choices, default=WecomLimit.OFF,
        help_text=_("Applied to WeCom mass messages as an extra cap counted over WeCom sends only, so no task "
                    "goes to a customer WeCom would refuse."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    store_scope_field = None  # brand-wide setting

    class Meta:
        verbose_name = _("send policy")
        verbose_name_plural = _("send policy")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="send_policy_singleton"),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="send_policy_attempts_positive"),
        ]

    def __str__(self) -> str:
        return str(_("Send policy"))


class MemberSendDay(models.Model):
    """How many messages a member was sent on one calendar day (settings.TIME_ZONE), across every
    campaign and channel: the frequency caps read a member's last days here, and the claiming
    transaction's upsert of today's row locks the member against a racing campaign."""

    pk = models.CompositePrimaryKey("member", "day")
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    day = models.DateField(_("day"))
    count = models.PositiveIntegerField(_("messages"), default=0)
    # Of them, WeCom customer mass messages (WeCom's own per-customer limit counts these only).
    wecom = models.PositiveIntegerField(_("WeCom mass messages"), db_default=0)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        verbose_name = _("member send day")
        verbose_name_plural = _("member send days")

    def __str__(self) -> str:
        return f"{self.member_id}@{self.day}: {self.count}"


class Season(models.Model):
    """A named stretch of every year (Valentine's, Christmas) with its own frequency caps, which
    replace the send policy's while the day in settings.TIME_ZONE falls in it. From start to end
    inclusive, by month and day; a start after the end wraps the year end (15 December to 6 January).
    Seasons never overlap (campaigns.services.seasons refuses it). 0: no cap in that window."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    start_month = models.PositiveSmallIntegerField(_("start month"))
    start_day = models.PositiveSmallIntegerField(_("start day"))
    end_month = models.PositiveSmallIntegerField(_("end month"))
    end_day = models.PositiveSmallIntegerField(_("end day"))
    daily_cap = models.PositiveSmallIntegerField(_("messages per day"), default=1)
    weekly_cap = models.PositiveSmallIntegerField(_("messages per week"), default=3)
    monthly_cap = models.PositiveSmallIntegerField(_("messages per month"), default=8)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedManager()
    store_scope_field = None  # brand-wide setting, as the send policy

    class Meta:
        ordering = ["start_month", "start_day", "id"]
        verbose_name = _("season")
        verbose_name_plural = _("seasons")
        constraints = [
            models.CheckConstraint(
                condition=Q(start_month__gte=1, start_month__lte=12, end_month__gte=1, end_month__lte=12,
                            start_day__gte=1, start_day__lte=31, end_day__gte=1, end_day__lte=31),
                name="season_month_day_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def contains(self, day) -> bool:
        """Whether `day` (a date) falls in the season, in any year."""
        at, start, end = (day.month, day.day), (self.start_month, self.start_day), (self.end_month, self.end_day)
        return start <= at <= end if start <= end else at >= start or at <= end


class WecomTaskState(models.TextChoices):
    INTENT = "intent", _("About to be created")
    CREATED = "created", _("Created, waiting for staff")
    UNKNOWN = "unknown", _("Outcome unknown")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class WecomMassTask(models.Model):
    """One WeCom customer mass-message task (add_msg_template): one staff member's share of one send
    batch of a campaign. WeCom takes no idempotency key, so the row is written and committed as an
    intent before the create call; an unanswered call leaves it `unknown` until the task is found by
    reading WeCom's tasks back (or known not to exist). `delivery_ids` are the deliveries it carries
    (their send month is the campaign's). Polling (campaigns.services.wecom_results) reads the staff
    member's confirmation and the per-customer results until every delivery is final or the task can
    no longer be confirmed; `reminded_at` keeps the reminders of the last 24 hours (at most 3)."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, db_index=False, related_name="wecom_tasks"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff"), on_delete=models.SET_NULL, null=True, blank=True,
        db_index=False, related_name="+",  # wecom_task_staff serves it
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False, help_text=_("The staff member's store when the task was created."),
    )
    sender = models.CharField(_("WeCom userid"), max_length=64)
    state = models.CharField(
        _("state"), max_length=10, choices=WecomTaskState.choices, default=WecomTaskState.INTENT
    )
    # "group": a task to customer groups (campaigns.services.group_messages); its delivery_ids are
    # GroupDelivery ids, one per chat.
    chat_type = models.CharField(_("chat type"), max_length=6, default="single")
    msgid = models.CharField(_("WeCom msgid"), max_length=64, blank=True, default="")
    text = models.TextField(_("text"))
    delivery_ids = ArrayField(models.BigIntegerField(), verbose_name=_("deliveries"), default=list)
    customers = models.PositiveIntegerField(_("customers"), default=0)
    refused = models.PositiveIntegerField(
        _("refused by WeCom"), default=0, help_text=_("Customers in the create call's fail_list.")
    )
    intended_at = models.DateTimeField(_("intent recorded"), default=timezone.now)
    created_at = models.DateTimeField(_("created in WeCom"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("sent by the staff member"), null=True, blank=True)
    reminded_at = ArrayField(models.DateTimeField(), verbose_name=_("reminders"), default=list, blank=True)
    next_poll_at = models.DateTimeField(_("next poll"), null=True, blank=True)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True)
    polls = models.PositiveIntegerField(_("polls"), default=0)
    finished_at = models.DateTimeField(
        _("finished"), null=True, blank=True,
        help_text=_("Every delivery of the task has its final state (or the task can no longer be confirmed)."),
    )
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=ERROR_MAX, blank=True, default="")
    errors = models.PositiveSmallIntegerField(_("errors in a row"), default=0)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-id"]
        verbose_name = _("WeCom mass-message task")
        verbose_name_plural = _("WeCom mass-message tasks")
        indexes = [
            models.Index(fields=["campaign", "sender"], name="wecom_task_campaign"),
            # The poller's due tasks.
            models.Index(fields=["next_poll_at"], name="wecom_task_due",
                         condition=Q(finished_at__isnull=True, next_poll_at__isnull=False)),
            models.Index(fields=["staff", "-id"], name="wecom_task_staff"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.sender} {self.state}"


class StaffTestOutcome(models.TextChoices):
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    RECORDED = "recorded", _("Recorded (this channel is not sent to staff)")
    FAILED = "failed", _("Failed")
    REFUSED = "refused", _("Not sent: no address")


class StaffTestSend(models.Model):
    """A campaign's message sent to one staff member to look at before it goes out: never a delivery,
    never counted against a member's caps or in the results (campaigns.services.test_sends)."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, db_index=False, related_name="test_sends"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sent to"), on_delete=models.SET_NULL, null=True, blank=True,
        db_index=False, related_name="+",
    )
    recipient_label = models.CharField(_("sent to (name)"), max_length=150)
    sample_member = models.ForeignKey(
        Member, verbose_name=_("sample member"), on_delete=models.SET_NULL, null=True, blank=True,
        db_index=False, db_constraint=False, related_name="+",
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sent by"), on_delete=models.SET_NULL, null=True, blank=True,
        db_index=False, related_name="+",
    )
    sent_by_label = models.CharField(_("sent by (API key)"), max_length=100, blank=True, default="")
    channel = models.CharField(_("channel"), max_length=24)
    address = models.CharField(_("address"), max_length=254, blank=True, default="")
    text = models.TextField(_("text"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=StaffTestOutcome.choices)
    provider_message_id = models.CharField(_("provider message id"), max_length=128, blank=True, default="")
    error = models.CharField(_("error"), max_length=ERROR_MAX, blank=True, default="")
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "campaign__store"

    class Meta:
        ordering = ["-id"]
        verbose_name = _("test send")
        verbose_name_plural = _("test sends")
        indexes = [models.Index(fields=["campaign", "-created_at"], name="staff_test_send_campaign")]

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.recipient_label} {self.outcome}"


class CampaignFiguresRun(models.Model):
    """When a large campaign's results summary (CampaignFigures, CampaignLinkFigures) was last summed,
    over which uplift window, and whether a refresh was asked for since (campaigns.services.figures)."""

    campaign = models.OneToOneField(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    computed_at = models.DateTimeField(_("summed at"), null=True, blank=True)
    window_end = models.DateTimeField(_("orders counted until"), null=True, blank=True)
    deliveries = models.PositiveIntegerField(_("deliveries"), default=0)
    seconds = models.FloatField(_("seconds taken"), default=0)
    requested_at = models.DateTimeField(_("refresh asked for"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "campaign__store"

    class Meta:
        verbose_name = _("campaign results summary")
        verbose_name_plural = _("campaign results summaries")

    def __str__(self) -> str:
        return f"{self.campaign_id} @ {self.computed_at}"


class CampaignFigures(models.Model):
    """One cell of a large campaign's results summary: its deliveries of one (member's home store,
    staff member, state, reason), with the clicks, attributed orders and holdout-window orders of
    those members. Every figure of the results page is a sum of these rows (cut to a store by
    `home_store`), so the summary and the live query answer the same."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    home_store = models.ForeignKey(
        Store, verbose_name=_("home store"), on_delete=models.SET_NULL, null=True, blank=True, db_index=False,
        db_constraint=False, related_name="+",
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff"), on_delete=models.SET_NULL, null=True, blank=True,
        db_index=False, db_constraint=False, related_name="+",
    )
    state = models.CharField(_("state"), max_length=10, choices=DeliveryState.choices)
    reason = models.CharField(_("reason"), max_length=20, blank=True, default="")
    members = models.PositiveIntegerField(_("members"))
    clicked = models.PositiveIntegerField(_("members who clicked"))
    clicks = models.PositiveIntegerField(_("clicks"))
    converted = models.PositiveIntegerField(_("members converted"))
    orders = models.PositiveIntegerField(_("orders attributed"))
    revenue = models.DecimalField(_("revenue attributed"), max_digits=16, decimal_places=2)
    buyers = models.PositiveIntegerField(_("members with an order in the holdout window"))
    buyer_revenue = models.DecimalField(_("their orders' amount"), max_digits=16, decimal_places=2)

    objects = ScopedManager()
    store_scope_field = "campaign__store"

    class Meta:
        verbose_name = _("campaign figures")
        verbose_name_plural = _("campaign figures")
        indexes = [models.Index(fields=["campaign", "home_store"], name="campaign_figures")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.home_store_id}/{self.staff_id} {self.state}"


class CampaignLinkFigures(models.Model):
    """Clicks on one of a large campaign's links by members of one home store (none: clicks whose
    member is unknown or has no store), for its results summary."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    link_id = models.BigIntegerField(_("link"))
    home_store = models.ForeignKey(
        Store, verbose_name=_("home store"), on_delete=models.SET_NULL, null=True, blank=True, db_index=False,
        db_constraint=False, related_name="+",
    )
    clicks = models.PositiveIntegerField(_("clicks"))
    members = models.PositiveIntegerField(_("members"))

    objects = ScopedManager()
    store_scope_field = "campaign__store"

    class Meta:
        verbose_name = _("campaign link figures")
        verbose_name_plural = _("campaign link figures")
        indexes = [models.Index(fields=["campaign", "link_id"], name="campaign_link_figures")]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.link_id}/{self.home_store_id}"


class GroupAudience(models.Model):
    """The customer groups a `wecom_group` campaign sends to, resolved when sending starts: the chosen
    groups, every group of `store`, and every group of the chosen owners (WeCom staff). A store's
    campaign reaches only that store's groups whatever is chosen."""

    campaign = models.OneToOneField(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="group_audience"
    )
    group_ids = ArrayField(models.BigIntegerField(), verbose_name=_("chosen groups"), default=list, blank=True)
    owner_ids = ArrayField(models.BigIntegerField(), verbose_name=_("groups of these owners"), default=list,
                           blank=True)
    store = models.ForeignKey(
        Store, verbose_name=_("every group of the store"), on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", db_index=False,
    )

    objects = ScopedManager()
    store_scope_field = "campaign__store"

    class Meta:
        verbose_name = _("group audience")
        verbose_name_plural = _("group audiences")

    def __str__(self) -> str:
        return f"{self.campaign_id}"


class GroupDeliveryState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Being handed to WeCom")
    ACCEPTED = "accepted", _("Waiting for the group owner")
    SENT = "sent", _("Sent to the group")
    UNSENT = "unsent", _("Not sent by the owner")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


GROUP_OPEN_STATES = (GroupDeliveryState.PENDING, GroupDeliveryState.SENDING, GroupDeliveryState.ACCEPTED)


class GroupDelivery(models.Model):
    """One customer group of one `wecom_group` campaign: the ledger of group messages (a Delivery is
    per member). The owner's WeCom task (WecomMassTask, chat_type "group") carries it once created;
    polling the task says whether the owner sent it to this group. `store` is the group's store when
    sending started (store managers see their store's rows)."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    group = models.ForeignKey(
        "wecom.CustomerGroup", verbose_name=_("customer group"), on_delete=models.PROTECT, related_name="+"
    )
    chat_id = models.CharField(_("chat_id"), max_length=64)
    sender = models.CharField(_("owner's WeCom userid"), max_length=64)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False,
    )
    state = models.CharField(
        _("state"), max_length=10, choices=GroupDeliveryState.choices, default=GroupDeliveryState.PENDING
    )
    reason = models.CharField(_("reason"), max_length=20, choices=DeliveryReason.choices, blank=True, default="")
    task = models.ForeignKey(
        WecomMassTask, verbose_name=_("WeCom task"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", db_index=False,
    )
    msgid = models.CharField(_("WeCom msgid"), max_length=64, blank=True, default="")
    error = models.CharField(_("error"), max_length=ERROR_MAX, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["id"]
        verbose_name = _("group delivery")
        verbose_name_plural = _("group deliveries")
        constraints = [models.UniqueConstraint(fields=["campaign", "group"], name="group_delivery_unique")]
        indexes = [
            models.Index(fields=["campaign", "state"], name="group_delivery_state"),
            models.Index(fields=["task", "chat_id"], name="group_delivery_task",
                         condition=Q(task__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.chat_id} {self.state}"
