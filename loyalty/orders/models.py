"""Orders, their lines and refunds, from every channel the brand sells on."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member
from scrm.models import Store
from scrm.scoping import ScopedManager


class OrderChannel(models.TextChoices):
    POS = "pos", _("Store POS")
    MINIPROGRAM = "miniprogram", _("Mini-program")
    TMALL = "tmall", _("Tmall")
    JD = "jd", _("JD.com")
    DOUYIN = "douyin", _("Douyin")
    XIAOHONGSHU = "xiaohongshu", _("Xiaohongshu")
    WECOM = "wecom", _("WeCom (guide order)")
    OTHER = "other", _("Other")


class OrderStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


class AttributionRule(models.TextChoices):
    """How an order is credited to a shopping guide."""

    GIVEN = "given", _("Guide named on the order")
    OWNER = "owner", _("The member's owner")
    LAST_SERVED = "last_served", _("The guide who last served the member")
    NONE = "none", _("Nobody")


class Order(models.Model):
    """One purchase. (channel, external_id) is unique: a retried sync answers with the same order.

    The buyer is the member when their identity is known; otherwise the buyer's identity is kept
    (`buyer_*`) with `member` empty, and the order is linked when a member with that identity
    appears. `store` is the store the sale counts for (the till's store, or the member's home store
    for online orders)."""

    channel = models.CharField(_("channel"), max_length=20, choices=OrderChannel.choices)
    external_id = models.CharField(_("order number"), max_length=128)
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        db_index=False,  # order_member_placed (member, placed_at) serves every lookup by member
    )
    buyer_channel = models.CharField(_("buyer identity channel"), max_length=20, blank=True, default="")
    buyer_namespace = models.CharField(_("buyer identity namespace"), max_length=64, blank=True, default="")
    buyer_external_id = models.CharField(_("buyer identity"), max_length=128, blank=True, default="")
    store = models.ForeignKey(
        Store,
        verbose_name=_("store"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
        db_index=False,  # order_store_recent leads with store
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("credited guide"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="credited_orders",
        db_index=False,  # order_staff_recent leads with staff
    )
    attribution = models.CharField(
        _("credited by rule"), max_length=16, choices=AttributionRule.choices, default=AttributionRule.NONE
    )
    referral_code = models.CharField(_("referral code"), max_length=32, blank=True, default="")
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    total_amount = models.DecimalField(_("amount paid"), max_digits=12, decimal_places=2)
    refunded_amount = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, default=0)
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PAID)
    placed_at = models.DateTimeField(_("placed at"), db_index=False)
    created_at = models.DateTimeField(_("received at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-placed_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="order_unique_per_channel"),
            models.CheckConstraint(condition=Q(total_amount__gte=0), name="order_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("total_amount")),
                name="order_refund_within_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "placed_at"], name="order_member_placed"),
            models.Index(fields=["store", "-placed_at"], name="order_store_recent"),
            models.Index(fields=["staff", "-placed_at"], name="order_staff_recent"),
            models.Index(fields=["placed_at"], name="order_placed"),
            # Orders created, refunded or moved since a time: what the nightly tier run reads.
            models.Index(fields=["updated_at"], name="order_updated"),
            models.Index(
                fields=["buyer_channel", "buyer_namespace", "buyer_external_id"],
                name="order_pending_buyer",
                condition=Q(member__isnull=True),
            ),
            models.Index(fields=["referral_code"], name="order_referral_code", condition=~Q(referral_code="")),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.external_id}"

    @property
    def net_amount(self):
        return self.total_amount - self.refunded_amount


class OrderLine(models.Model):
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines", db_index=False
    )  # indexed by order_line_order
    sku = models.CharField(_("SKU"), max_length=64, blank=True, default="")
    name = models.CharField(_("product"), max_length=200)
    category = models.CharField(_("category"), max_length=64, blank=True, default="")
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    amount = models.DecimalField(_("amount paid"), max_digits=12, decimal_places=2)
    refunded_amount = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, default=0)

    objects = ScopedManager()
    store_scope_field = "order__store"

    class Meta:
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_line_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="order_line_refund_within_amount",
            ),
        ]
        indexes = [models.Index(fields=["order"], name="order_line_order")]

    def __str__(self) -> str:
        return self.name


class Refund(models.Model):
    """Money given back on an order, whole or in part; (order, external_id) is unique so a retried
    refund sync is answered with the refund already recorded."""

    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="refunds", db_index=False
    )  # refund_unique_per_order leads with order
    line = models.ForeignKey(
        OrderLine, verbose_name=_("line"), on_delete=models.CASCADE, null=True, blank=True, related_name="refunds"
    )
    external_id = models.CharField(_("refund number"), max_length=128)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=200, blank=True, default="")
    refunded_at = models.DateTimeField(_("refunded at"), default=timezone.now)
    created_at = models.DateTimeField(_("received at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "order__store"

    class Meta:
        ordering = ["-refunded_at", "-id"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], name="refund_unique_per_order"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.external_id


class AttributionPolicy(models.Model):
    """How orders are credited to shopping guides, set by operators. One row (pk=1), brand-wide.

    A guide named on the order wins when they are active staff of the order's store; otherwise
    `rule` decides: the member's owner, or the guide who last served the member (a service note
    they wrote or a relation they added) within `window_days`, falling back to the owner."""

    RULES = (AttributionRule.OWNER, AttributionRule.LAST_SERVED)

    rule = models.CharField(
        _("rule"),
        max_length=16,
        choices=[(r.value, r.label) for r in RULES],
        default=AttributionRule.OWNER,
    )
    window_days = models.PositiveSmallIntegerField(
        _("days a service counts"), default=30, help_text=_("For the last-served rule: 1 to 365 days.")
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
        verbose_name = _("attribution policy")
        verbose_name_plural = _("attribution policy")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="attribution_policy_singleton"),
            models.CheckConstraint(
                condition=Q(window_days__gte=1) & Q(window_days__lte=365), name="attribution_window_range"
            ),
        ]

    def __str__(self) -> str:
        return str(self.get_rule_display())

    @classmethod
    def current(cls) -> AttributionPolicy:
        policy = cls.objects.filter(pk=1).first()
        return policy or cls(pk=1)


class OrderImportMode(models.TextChoices):
    DRY_RUN = "dry_run", _("Dry run: check every row, write nothing")
    ALL = "all", _("Import, all or nothing: any invalid row means nothing is written")
    VALID = "valid", _("Import the valid orders and report the others")


class OrderImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


def _import_storage():
    from members.io.models import io_storage

    return io_storage()


class OrderImportJob(models.Model):
    """An uploaded file of orders and what became of it, run by a worker (or, small, in the request).
    A store manager's or store-bound key's job is bound to that store; an operator's has none."""

    file = models.FileField(_("file"), upload_to="order-imports/%Y/%m/", storage=_import_storage, max_length=255,
                            blank=True)
    original_name = models.CharField(_("file name"), max_length=255)
    size_bytes = models.BigIntegerField(_("size"), default=0)
    format = models.CharField(_("format"), max_length=8, choices=[("csv", "CSV"), ("xlsx", "XLSX")])
    encoding = models.CharField(_("encoding"), max_length=16, blank=True,
                                help_text=_("What a CSV is read in (chosen or detected); empty for XLSX."))
    mode = models.CharField(_("mode"), max_length=8, choices=OrderImportMode.choices, default=OrderImportMode.DRY_RUN)
    status = models.CharField(_("status"), max_length=8, choices=OrderImportStatus.choices,
                              default=OrderImportStatus.PENDING)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", db_index=False)  # order_import_store_recent leads with store
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"),
                                   on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    api_key = models.ForeignKey("scrm.ApiKey", verbose_name=_("API key"), on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="+")
    created_by_label = models.CharField(_("uploaded through"), max_length=100, blank=True)
    language = models.CharField(max_length=16, default="zh-hans", help_text=_("Language of the report."))
    rows = models.PositiveIntegerField(_("rows"), default=0)
    orders = models.PositiveIntegerField(_("orders"), default=0)
    orders_checked = models.PositiveIntegerField(_("orders checked"), default=0)
    created_count = models.PositiveIntegerField(_("orders created"), default=0)
    existing_count = models.PositiveIntegerField(_("already recorded"), default=0)
    invalid_orders = models.PositiveIntegerField(_("invalid orders"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    errors = models.JSONField(_("first errors"), default=list, blank=True)
    message_code = models.CharField(max_length=32, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    message = models.TextField(_("message"), blank=True,
                               help_text=_("An outcome without a code (a file that cannot be read), as written."))
    commit_of = models.OneToOneField("self", verbose_name=_("committed from"), on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="commit")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order import")
        verbose_name_plural = _("order imports")
        indexes = [
            models.Index(fields=["store", "-created_at"], name="order_import_store_recent"),
            models.Index(fields=["status"], name="order_import_running",
                         condition=Q(status__in=["pending", "running"])),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_running(self) -> bool:
        return self.status in (OrderImportStatus.PENDING, OrderImportStatus.RUNNING)

    @property
    def valid_orders(self) -> int:
        return self.created_count + self.existing_count

    @property
    def can_commit(self) -> bool:
        """A finished dry run with valid orders may be imported as it is, once."""
        return self.mode == OrderImportMode.DRY_RUN and self.status == OrderImportStatus.DONE and self.valid_orders > 0

    @property
    def summary(self) -> str:
        from loyalty.orders import import_jobs

        return import_jobs.job_message(self)

    def rendered_errors(self) -> list[dict]:
        from loyalty.orders import import_jobs

        return import_jobs.rendered_errors(self.errors or [])
