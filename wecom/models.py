"""What Siyu keeps of the brand's WeCom corp: its staff, external contacts and follow relations (with
a digest of what was last written, so a re-run writes only what changed), sync runs with a cursor per
staff member, callback events stored before they are processed, corp-tag links, channel codes,
welcome sends and handovers (customers and groups). Members, relations and tags themselves stay in
the member centre."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member, StaffRelation, Tag, TagGroup
from scrm.models import Store
from scrm.scoping import ScopedManager

# WeCom's ids: userid up to 64 characters, external_userid and unionid about 32, config_id 32.
ID_LENGTH = 64


class StaffStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    RESIGNED = "resigned", _("Resigned")


class WecomStaff(models.Model):
    """A member of the corp's staff with customer contact enabled, linked to a Siyu staff account
    (by the same username, or by hand). A staff member without an account is listed but not synced."""

    userid = models.CharField(_("WeCom userid"), max_length=ID_LENGTH, unique=True)
    name = models.CharField(_("name in WeCom"), max_length=64, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("Siyu account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="wecom",
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False,
    )
    status = models.CharField(_("status"), max_length=10, choices=StaffStatus.choices, default=StaffStatus.ACTIVE)
    follow_enabled = models.BooleanField(_("customer contact enabled"), default=True)
    contacts = models.PositiveIntegerField(_("customers"), default=0)
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["userid"]
        verbose_name = _("WeCom staff member")
        verbose_name_plural = _("WeCom staff")
        indexes = [models.Index(fields=["store", "userid"], name="wecom_staff_store")]

    def __str__(self) -> str:
        return self.name or self.userid


class ContactKind(models.IntegerChoices):
    WECHAT = 1, _("WeChat user")
    WECOM = 2, _("WeCom user")


class WecomContact(models.Model):
    """An external contact of the corp, pointing at the member it became. `digest` is a hash of the
    contact's fields as last written to the member, so an unchanged contact costs no write."""

    external_userid = models.CharField(_("external_userid"), max_length=ID_LENGTH, unique=True)
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        related_name="wecom_contacts",
    )
    unionid = models.CharField(_("unionid"), max_length=ID_LENGTH, blank=True)
    kind = models.PositiveSmallIntegerField(_("kind"), choices=ContactKind.choices, default=ContactKind.WECHAT)
    digest = models.CharField(_("digest"), max_length=32, blank=True)
    first_synced_at = models.DateTimeField(_("first synced"), default=timezone.now)
    synced_at = models.DateTimeField(_("last synced"), default=timezone.now)
    deleted_at = models.DateTimeField(_("no longer a contact since"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        verbose_name = _("WeCom contact")
        verbose_name_plural = _("WeCom contacts")
        indexes = [models.Index(fields=["member"], name="wecom_contact_member")]

    def __str__(self) -> str:
        return self.external_userid


class DeletedBy(models.TextChoices):
    CUSTOMER = "customer", _("The customer deleted the staff member")
    STAFF = "staff", _("The staff member deleted the customer")


class WecomFollow(models.Model):
    """One staff member following one contact (WeCom's follow_user), as last synced; the member
    centre's StaffRelation is the domain row it keeps in step."""

    contact = models.ForeignKey(
        WecomContact, verbose_name=_("contact"), on_delete=models.CASCADE, db_index=False, related_name="follows"
    )
    staff = models.ForeignKey(
        WecomStaff, verbose_name=_("staff"), on_delete=models.CASCADE, db_index=False, related_name="follows"
    )
    relation = models.ForeignKey(
        StaffRelation, verbose_name=_("relation"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    add_way = models.SmallIntegerField(_("add_way"), default=0)
    state = models.CharField(_("channel state"), max_length=ID_LENGTH, blank=True)
    added_at = models.DateTimeField(_("added at"), null=True, blank=True)
    digest = models.CharField(_("digest"), max_length=32, blank=True)
    synced_at = models.DateTimeField(_("last synced"), default=timezone.now)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    deleted_by = models.CharField(_("deleted by"), max_length=8, choices=DeletedBy.choices, blank=True)

    objects = ScopedManager()
    store_scope_field = "contact__member__home_store"

    class Meta:
        verbose_name = _("WeCom follow relation")
        verbose_name_plural = _("WeCom follow relations")
        constraints = [models.UniqueConstraint(fields=["contact", "staff"], name="wecom_follow_unique")]
        indexes = [
            models.Index(fields=["staff", "contact"], name="wecom_follow_staff"),
            models.Index(fields=["state", "added_at"], name="wecom_follow_state", condition=~Q(state="")),
            models.Index(fields=["deleted_at"], name="wecom_follow_deleted", condition=Q(deleted_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.staff_id} → {self.contact_id}"


class ErasedContact(models.Model):
    """An external contact whose member was erased on a data-subject request: only a SHA-256 of the
    external_userid, so a later sync recognises it and does not re-create the person."""

    digest = models.CharField(max_length=64, unique=True)
    erased_at = models.DateTimeField(default=timezone.now)

    store_scope_field = None

    class Meta:
        verbose_name = _("erased WeCom contact")
        verbose_name_plural = _("erased WeCom contacts")

    def __str__(self) -> str:
        return self.digest[:12]


class SyncKind(models.TextChoices):
    CONTACTS = "contacts", _("Contacts, full")
    CONTACTS_INCREMENTAL = "contacts_incremental", _("Contacts, changes only")
    TAGS = "tags", _("Corp tags")
    GROUPS = "groups", _("Customer groups")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)


class SyncRun(models.Model):
    """One sync, resumable: its per-staff cursors say where it stands, its counts what it did. A
    paused run (rate limit, token trouble, network) resumes at `resume_at` where it stopped."""

    kind = models.CharField(_("kind"), max_length=24, choices=SyncKind.choices)
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    requested_by_label = models.CharField(_("requested by"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last progress"), null=True, blank=True)
    resume_at = models.DateTimeField(_("resumes at"), null=True, blank=True)
    pause_reason = models.CharField(_("paused because"), max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    staff_total = models.PositiveIntegerField(_("staff to sync"), default=0)
    staff_done = models.PositiveIntegerField(_("staff synced"), default=0)
    added = models.PositiveIntegerField(_("added"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    removed = models.PositiveIntegerField(_("removed (churn)"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    error_code = models.CharField(_("error code"), max_length=32, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)

    store_scope_field = None

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("WeCom sync run")
        verbose_name_plural = _("WeCom sync runs")
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(status__in=["queued", "running", "paused"]),
                name="wecom_one_active_run_per_kind",
            )
        ]
        indexes = [models.Index(fields=["status", "resume_at"], name="wecom_run_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class CursorStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class SyncCursor(models.Model):
    """Where a run stands for one staff member: WeCom's cursor of the next page, and its counts."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="cursors", db_index=False)
    staff = models.ForeignKey(WecomStaff, on_delete=models.CASCADE, related_name="+")
    cursor = models.CharField(max_length=256, blank=True)
    status = models.CharField(max_length=8, choices=CursorStatus.choices, default=CursorStatus.PENDING)
    pages = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=32, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    store_scope_field = None

    class Meta:
        verbose_name = _("sync cursor")
        verbose_name_plural = _("sync cursors")
        constraints = [models.UniqueConstraint(fields=["run", "staff"], name="wecom_cursor_unique")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.staff_id}"


class SyncFailure(models.Model):
    """One thing a run could not do, with a reason code (worded when read) and bounded detail. A run
    keeps at most a few hundred; the rest are counted in SyncRun.failed."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="failures", db_index=False)
    staff = models.ForeignKey(WecomStaff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    external_userid = models.CharField(max_length=ID_LENGTH, blank=True)
    reason = models.CharField(max_length=32)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    store_scope_field = None

    class Meta:
        verbose_name = _("sync failure")
        verbose_name_plural = _("sync failures")
        indexes = [models.Index(fields=["run", "id"], name="wecom_failure_run")]

    def __str__(self) -> str:
        return self.reason


class EventStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DONE = "done", _("Processed")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed")


class CallbackEvent(models.Model):
    """A callback from WeCom, stored (decrypted, as flat fields) before it is acknowledged and
    processed by a worker. `digest` of the decrypted message makes WeCom's retries one row."""

    digest = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    created_at_wecom = models.DateTimeField(_("sent by WeCom at"), null=True, blank=True)
    event = models.CharField(_("event"), max_length=48, blank=True)
    change_type = models.CharField(_("change type"), max_length=48, blank=True)
    payload = models.JSONField(_("fields"), default=dict)
    status = models.CharField(_("status"), max_length=8, choices=EventStatus.choices, default=EventStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    store_scope_field = None

    class Meta:
        ordering = ["-received_at"]
        verbose_name = _("WeCom callback event")
        verbose_name_plural = _("WeCom callback events")
        indexes = [
            models.Index(fields=["received_at"], name="wecom_event_received"),
            # The workers' pending queue, and the events page's per-status counts and lists (by id).
            models.Index(fields=["status", "id"], name="wecom_event_status"),
        ]

    def __str__(self) -> str:
        return f"{self.event}/{self.change_type}"


class CorpTagGroupLink(models.Model):
    """A member-centre tag group linked to a WeCom corp tag group: its tags are kept in step both
    ways (wecom.services.tags). No `wecom_group_id` yet: an operator asked to sync a Siyu group and
    the next tags sync creates it in WeCom. No `group`: deleted in Siyu since the last sync."""

    group = models.OneToOneField(TagGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="wecom")
    wecom_group_id = models.CharField(max_length=ID_LENGTH, unique=True, null=True, blank=True)
    name_in_wecom = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    store_scope_field = None

    class Meta:
        verbose_name = _("WeCom tag group link")
        verbose_name_plural = _("WeCom tag group links")

    def __str__(self) -> str:
        return self.wecom_group_id or "-"


class CorpTagLink(models.Model):
    """A member-centre tag linked to a WeCom corp tag (its tag_id in WeCom), with its name in WeCom
    as of the last sync. No `tag`: deleted in Siyu since the last sync (the sync carries it over)."""

    tag = models.OneToOneField(Tag, on_delete=models.SET_NULL, null=True, blank=True, related_name="wecom")
    wecom_tag_id = models.CharField(max_length=ID_LENGTH, unique=True)
    group_link = models.ForeignKey(CorpTagGroupLink, on_delete=models.CASCADE, related_name="tags")
    name_in_wecom = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)
    # Deleted in WeCom while members carried the tag: kept in Siyu, no longer synced or pushed.
    unlinked_at = models.DateTimeField(null=True, blank=True)

    store_scope_field = None

    class Meta:
        verbose_name = _("WeCom tag link")
        verbose_name_plural = _("WeCom tag links")

    def __str__(self) -> str:
        return self.wecom_tag_id


class ChannelPurpose(models.TextChoices):
    STORE = "store", _("Store")
    STAFF = "staff", _("Staff member")
    CAMPAIGN = "campaign", _("Campaign")


class ChannelCode(models.Model):
    """A "contact me" code with a `state`: every contact added through it carries the state, so its
    source is known and counted. Created in WeCom by a worker (config_id set once it exists)."""

    name = models.CharField(_("name"), max_length=64)
    purpose = models.CharField(_("for"), max_length=10, choices=ChannelPurpose.choices, default=ChannelPurpose.STORE)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False,
    )
    staff = models.ManyToManyField(WecomStaff, verbose_name=_("staff"), related_name="channel_codes")
    # WeCom takes a state of at most 30 characters.
    state = models.CharField(_("state"), max_length=30, unique=True)
    config_id = models.CharField(_("WeCom config_id"), max_length=ID_LENGTH, blank=True)
    qr_code = models.URLField(_("QR code image in WeCom"), max_length=500, blank=True)
    skip_verify = models.BooleanField(_("add without confirmation"), default=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags for new contacts"), blank=True, related_name="+")
    welcome_enabled = models.BooleanField(_("send a welcome message"), default=False)
    welcome_text = models.TextField(_("welcome message"), max_length=4000, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    sync_error = models.CharField(_("last error from WeCom"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("channel code")
        verbose_name_plural = _("channel codes")
        indexes = [models.Index(fields=["store", "-created_at"], name="wecom_code_store")]

    def __str__(self) -> str:
        return self.name


class WelcomeStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    EXPIRED = "expired", _("Too late (20 s window passed)")
    USED = "used", _("Welcome already sent by WeCom or another app")
    FAILED = "failed", _("Failed")


class WelcomeSend(models.Model):
    """The one welcome message for one add event (WeCom accepts one within 20 seconds)."""

    event = models.OneToOneField(CallbackEvent, on_delete=models.CASCADE, related_name="welcome")
    channel_code = models.ForeignKey(ChannelCode, on_delete=models.SET_NULL, null=True, related_name="welcomes")
    status = models.CharField(max_length=8, choices=WelcomeStatus.choices)
    errcode = models.IntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)

    store_scope_field = "channel_code__store"

    class Meta:
        verbose_name = _("welcome message sent")
        verbose_name_plural = _("welcome messages sent")

    def __str__(self) -> str:
        return self.status


class HandoverKind(models.TextChoices):
    ON_JOB = "on_job", _("Staff member moves (still employed)")
    RESIGNED = "resigned", _("Staff member has left")


class HandoverStatus(models.TextChoices):
    RUNNING = "running", _("In progress")
    DONE = "done", _("Finished")
    CANCELLED = "cancelled", _("Cancelled")


class Handover(models.Model):
    """Customers of one staff member handed to another through WeCom's transfer API."""

    kind = models.CharField(_("kind"), max_length=10, choices=HandoverKind.choices)
    from_staff = models.ForeignKey(
        WecomStaff, verbose_name=_("from"), on_delete=models.PROTECT, related_name="handovers_out"
    )
    to_staff = models.ForeignKey(
        WecomStaff, verbose_name=_("to"), on_delete=models.PROTECT, related_name="handovers_in"
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    message = models.CharField(_("message to customers"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=HandoverStatus.choices, default=HandoverStatus.RUNNING
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("handover")
        verbose_name_plural = _("handovers")

    def __str__(self) -> str:
        return f"{self.from_staff} → {self.to_staff}"


class ItemStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    WAITING = "waiting", _("Waiting for the customer")
    DONE = "done", _("Done")
    REFUSED = "refused", _("Refused by the customer")
    RECEIVER_FULL = "receiver_full", _("Receiver has too many customers")
    LIMIT = "limit", _("Transferred twice in 90 days already")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled before it was sent")


FINAL_ITEM_STATUSES = (
    ItemStatus.DONE,
    ItemStatus.REFUSED,
    ItemStatus.RECEIVER_FULL,
    ItemStatus.LIMIT,
    ItemStatus.FAILED,
    ItemStatus.CANCELLED,
)


class HandoverItem(models.Model):
    """One customer in a handover, tracked until WeCom reports a final status."""

    handover = models.ForeignKey(Handover, on_delete=models.CASCADE, related_name="items", db_index=False)
    contact = models.ForeignKey(WecomContact, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("status"), max_length=14, choices=ItemStatus.choices, default=ItemStatus.QUEUED)
    errcode = models.IntegerField(_("WeCom errcode"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "handover__store"

    class Meta:
        verbose_name = _("handover customer")
        verbose_name_plural = _("handover customers")
        constraints = [models.UniqueConstraint(fields=["handover", "contact"], name="wecom_handover_item_unique")]
        indexes = [models.Index(fields=["handover", "status"], name="wecom_item_status")]

    def __str__(self) -> str:
        return f"{self.handover_id}/{self.contact_id}"


class GroupItemStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    DONE = "done", _("Done")
    LIMIT = "limit", _("Limit reached (handed over twice in 90 days)")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled before it was sent")


class HandoverGroup(models.Model):
    """One customer group of the leaver in a handover. WeCom moves a group at once (or names it in
    failed_chat_list), so a group is queued until its call comes back, then final."""

    handover = models.ForeignKey(Handover, on_delete=models.CASCADE, related_name="groups", db_index=False)
    group = models.ForeignKey("CustomerGroup", verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=GroupItemStatus.choices,
                              default=GroupItemStatus.QUEUED)
    errcode = models.IntegerField(_("WeCom errcode"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "handover__store"

    class Meta:
        verbose_name = _("handover group")
        verbose_name_plural = _("handover groups")
        constraints = [models.UniqueConstraint(fields=["handover", "group"], name="wecom_handover_group_unique")]
        indexes = [
            models.Index(fields=["handover", "status"], name="wecom_hgroup_status"),
            # What was sent to a receiver in the last 24 hours (WeCom's 300 chats a day to one owner).
            models.Index(fields=["sent_at"], name="wecom_hgroup_sent", condition=Q(sent_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.handover_id}/{self.group_id}"


class ConnectionState(models.Model):
    """The connector's health, one row: the last token, call, error and callback seen."""

    mode = models.CharField(max_length=8, blank=True)
    token_fetched_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_errcode = models.IntegerField(null=True, blank=True)
    last_error_path = models.CharField(max_length=80, blank=True)
    last_callback_at = models.DateTimeField(null=True, blank=True)
    rate_limited_until = models.DateTimeField(null=True, blank=True)

    store_scope_field = None

    class Meta:
        verbose_name = _("WeCom connection state")
        verbose_name_plural = _("WeCom connection state")

    def __str__(self) -> str:
        return self.mode or "wecom"


class TagMarkStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DONE = "done", _("Marked in WeCom")
    NOT_A_CONTACT = "not_contact", _("No longer a contact of this staff member")
    FAILED = "failed", _("Failed")


class TagMark(models.Model):
    """Corp tags to add to / remove from one follow relation in WeCom (mark_tag), written when a
    member's linked tags change in Siyu and sent by a worker: the outbox of tag pushes."""

    follow = models.ForeignKey(WecomFollow, on_delete=models.CASCADE, db_index=False, related_name="+")
    add_tag = models.JSONField(default=list)
    remove_tag = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=TagMarkStatus.choices, default=TagMarkStatus.PENDING)
    errcode = models.IntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "follow__contact__member__home_store"

    class Meta:
        verbose_name = _("WeCom tag mark")
        verbose_name_plural = _("WeCom tag marks")
        indexes = [
            models.Index(fields=["due_at", "id"], name="wecom_tagmark_due", condition=Q(status="pending")),
            models.Index(fields=["follow", "id"], name="wecom_tagmark_follow"),
        ]

    def __str__(self) -> str:
        return f"{self.follow_id}: +{len(self.add_tag)} -{len(self.remove_tag)}"


class GroupStatus(models.IntegerChoices):
    """groupchat/list's follow-up status of a group (status_filter takes the same values)."""

    NORMAL = 0, _("Owner active")
    OWNER_RESIGNED = 1, _("Owner left, waiting for a new owner")
    TRANSFERRING = 2, _("Being handed to a new owner")
    TRANSFERRED = 3, _("Handed to a new owner")


class CustomerGroup(models.Model):
    """A WeCom customer group (客户群: an external group chat its owner created), as last read with
    groupchat/get or changed by a change_external_chat callback. `store` is the owner's store when
    last synced (what store roles are scoped by); `seen_at` is the WeCom time of the newest state
    applied, so an older callback changes nothing; `member_version` is WeCom's own version of the
    member list (a callback whose CurMemVer matches needs no read)."""

    chat_id = models.CharField(_("chat_id"), max_length=ID_LENGTH, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    owner = models.ForeignKey(
        WecomStaff, verbose_name=_("owner"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="owned_groups", db_index=False,
    )
    owner_userid = models.CharField(_("owner's WeCom userid"), max_length=ID_LENGTH, blank=True)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False,
    )
    created_at_wecom = models.DateTimeField(_("created in WeCom"), null=True, blank=True)
    notice = models.TextField(_("notice"), blank=True)
    member_count = models.PositiveIntegerField(_("members"), default=0)
    customer_count = models.PositiveIntegerField(_("customers"), default=0)
    status = models.PositiveSmallIntegerField(_("status"), choices=GroupStatus.choices, default=GroupStatus.NORMAL)
    member_version = models.CharField(_("member version"), max_length=64, blank=True)
    dismissed_at = models.DateTimeField(_("dismissed"), null=True, blank=True)
    seen_at = models.DateTimeField(_("WeCom state as of"), null=True, blank=True)
    synced_at = models.DateTimeField(_("last synced"), default=timezone.now)
    last_run = models.ForeignKey(
        SyncRun, verbose_name=_("last listed by run"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", db_index=False,
    )

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("customer group")
        verbose_name_plural = _("customer groups")
        indexes = [
            models.Index(fields=["store", "name"], name="wecom_group_store"),
            models.Index(fields=["owner", "name"], name="wecom_group_owner"),
        ]

    def __str__(self) -> str:
        return self.name or self.chat_id


class GroupMemberKind(models.IntegerChoices):
    STAFF = 1, _("Staff member")
    CUSTOMER = 2, _("Customer")


class JoinScene(models.IntegerChoices):
    """groupchat/get's join_scene."""

    INVITED = 1, _("Invited directly by a group member")
    LINK = 2, _("Invited through a link")
    QR_CODE = 3, _("Scanned the group's QR code")


class CustomerGroupMember(models.Model):
    """One person in a customer group: a customer (external_userid; `member` when Siyu knows them as a
    WeCom contact) or a staff member (`staff`). A member who left keeps the row with `left_at`; joining
    again clears it."""

    group = models.ForeignKey(
        CustomerGroup, verbose_name=_("group"), on_delete=models.CASCADE, related_name="members", db_index=False
    )
    userid = models.CharField(_("WeCom id"), max_length=ID_LENGTH)
    kind = models.PositiveSmallIntegerField(_("kind"), choices=GroupMemberKind.choices)
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="wecom_groups",
    )
    staff = models.ForeignKey(
        WecomStaff, verbose_name=_("staff"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False,
    )
    name = models.CharField(_("name in the group"), max_length=64, blank=True)
    joined_at = models.DateTimeField(_("joined"), null=True, blank=True)
    join_scene = models.PositiveSmallIntegerField(_("how they joined"), null=True, blank=True)
    invitor = models.CharField(_("invited by (userid)"), max_length=ID_LENGTH, blank=True)
    left_at = models.DateTimeField(_("left"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "group__store"

    class Meta:
        verbose_name = _("customer group member")
        verbose_name_plural = _("customer group members")
        constraints = [models.UniqueConstraint(fields=["group", "userid"], name="wecom_group_member_unique")]

    def __str__(self) -> str:
        return f"{self.group_id}/{self.userid}"
