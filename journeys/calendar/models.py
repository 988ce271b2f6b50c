"""Planned posts and their per-staff completion.

A `PlannedPost` is a WeCom Moment (客户朋友圈, add_moment_task) or a customer-group post (add_msg_template
with chat_type "group", one task per sender) planned for a date and time in the brand's time zone,
with its images (the campaigns' uploaded images, handed to WeCom at publish time), who posts it
(chosen staff, the store's staff, or all staff) and, for a Moment, the corp tags
of the customers who see it. Its state moves draft -> scheduled -> submitted (WeCom's asynchronous
job is being polled) -> created (staff are asked to publish) or failed; cancelled at any point
before the day ends. One `PostStaff` row per sender says whether they have published it yet, as
WeCom last answered, or why they were left out (left the brand, no WeCom account, refused by WeCom).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from scrm.models import Store
from scrm.scoping import ScopedManager

TEXT_MAX_BYTES = 4000  # WeCom's text.content limit for Moments and mass messages alike
TITLE_MAX = 64
ERROR_MAX = 500
URL_MAX = 500
MAX_SENDERS = 1000  # staff per post: bounded work per tick and per API answer
MAX_TAGS = 100
MAX_IMAGES = 9  # add_moment_task: at most 9 images (or one link); add_msg_template: 9 attachments


class PostKind(models.TextChoices):
    MOMENT = "moment", _("Moment (customer Moments)")
    GROUP = "group", _("Customer-group post")


class PostAudience(models.TextChoices):
    STAFF = "staff", _("Chosen staff")
    STORE = "store", _("The store's staff")
    ALL = "all", _("All staff")


class PostState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SUBMITTED = "submitted", _("Submitted to WeCom")
    CREATED = "created", _("Created in WeCom")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATES = (PostState.DRAFT, PostState.SCHEDULED)
LIVE_STATES = (PostState.SUBMITTED, PostState.CREATED)


class PlannedPost(models.Model):
    """One post on the content calendar. `store` None: a brand-wide post (operators), which store
    roles see too (their own staff's completion only)."""

    kind = models.CharField(_("kind"), max_length=8, choices=PostKind.choices, default=PostKind.MOMENT)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", db_index=False, help_text=_("Empty: a brand-wide post."))
    title = models.CharField(_("title"), max_length=TITLE_MAX, help_text=_("For the calendar; not posted."))
    publish_at = models.DateTimeField(_("publish at"))
    text = models.TextField(_("text"), blank=True, default="")
    link_url = models.URLField(_("link"), max_length=URL_MAX, blank=True, default="")
    link_title = models.CharField(_("link title"), max_length=TITLE_MAX, blank=True, default="")
    image_url = models.URLField(_("image"), max_length=URL_MAX, blank=True, default="")
    # Campaign images (campaigns.CampaignImage ids, in order), uploaded to WeCom when the post is handed over.
    image_ids = ArrayField(models.BigIntegerField(), verbose_name=_("images"), default=list, blank=True)
    audience = models.CharField(_("who posts"), max_length=8, choices=PostAudience.choices,
                                default=PostAudience.STORE)
    staff_ids = ArrayField(models.BigIntegerField(), verbose_name=_("chosen staff"), default=list, blank=True)
    tag_ids = ArrayField(models.BigIntegerField(), verbose_name=_("visible to customers tagged"), default=list,
                         blank=True, help_text=_("Empty: all of each sender's customers."))
    state = models.CharField(_("state"), max_length=10, choices=PostState.choices, default=PostState.DRAFT)
    jobid = models.CharField(_("WeCom job id"), max_length=128, blank=True, default="")
    moment_id = models.CharField(_("WeCom moment id"), max_length=128, blank=True, default="")
    error = models.CharField(_("error"), max_length=ERROR_MAX, blank=True, default="")
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    created_in_wecom_at = models.DateTimeField(_("created in WeCom at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    polls = models.PositiveSmallIntegerField(_("job polls"), default=0)
    next_poll_at = models.DateTimeField(_("next poll at"), null=True, blank=True)
    poll_until = models.DateTimeField(_("completion polled until"), null=True, blank=True)
    closed_at = models.DateTimeField(_("completion final at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+", db_index=False)
    created_by_label = models.CharField(_("created by (API key or rule)"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "store"
    store_scope_shared = True

    class Meta:
        ordering = ["publish_at", "id"]
        verbose_name = _("planned post")
        verbose_name_plural = _("planned posts")
        constraints = [
            models.CheckConstraint(condition=~Q(audience="store") | Q(store__isnull=False),
                                   name="calendar_store_audience_has_store"),
        ]
        indexes = [
            # The month calendar and the API's date filters, per store and brand-wide.
            models.Index(fields=["store", "publish_at"], name="calendar_post_store_at"),
            models.Index(fields=["publish_at"], name="calendar_post_at"),
            # The tick: scheduled posts due, and live posts whose next poll is due.
            models.Index(fields=["state", "next_poll_at"], name="calendar_post_due",
                         condition=Q(state__in=["scheduled", "submitted", "created"])),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_editable(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_cancellable(self) -> bool:
        return self.state in (*OPEN_STATES, *LIVE_STATES) and self.closed_at is None


class StaffStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("post completion", "Not yet")
    POSTED = "posted", _("Posted")
    REFUSED = "refused", _("Refused by WeCom")
    SKIPPED = "skipped", _("Left out")


class PostStaff(models.Model):
    """One sender of a post: whether they have published it (as WeCom last answered) or why not."""

    post = models.ForeignKey(PlannedPost, verbose_name=_("post"), on_delete=models.CASCADE, related_name="senders",
                             db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.SET_NULL,
                             null=True, blank=True, related_name="+", db_index=False)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", db_index=False)
    name = models.CharField(_("name"), max_length=150, blank=True, default="")
    userid = models.CharField(_("WeCom userid"), max_length=64, blank=True, default="")
    status = models.CharField(_("status"), max_length=8, choices=StaffStatus.choices, default=StaffStatus.PENDING)
    reason = models.CharField(_("reason"), max_length=ERROR_MAX, blank=True, default="")
    msgid = models.CharField(_("WeCom msgid"), max_length=64, blank=True, default="",
                             help_text=_("A customer-group post's task for this sender."))
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["post", "name", "id"]
        verbose_name = _("post sender")
        verbose_name_plural = _("post senders")
        constraints = [
            models.UniqueConstraint(fields=["post", "userid"], condition=~Q(userid=""), name="calendar_sender_once"),
        ]
        indexes = [
            models.Index(fields=["post", "status"], name="calendar_sender_post"),
            # The phone: a staff member's posts to publish.
            models.Index(fields=["user", "status"], name="calendar_sender_user"),
            models.Index(fields=["store", "post"], name="calendar_sender_store"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.userid} · {self.post_id}"
