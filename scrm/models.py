"""The organisation (regions, stores, staff and their roles), API keys, the audit log and
service heartbeats: what every other app builds on."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrm.scoping import ScopedManager, ScopedQuerySet


class Region(models.Model):
    """A sales region (East China, South China...) grouping stores for reporting and management."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)

    store_scope_field = None  # shared reference data, visible to every role

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name


class Store(models.Model):
    """A physical store (or a brand's online shop run by a team); store roles are bound to one."""

    code = models.SlugField(_("store code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="stores")
    city = models.CharField(_("city"), max_length=64)
    address = models.CharField(_("address"), max_length=255, blank=True)
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    objects = ScopedManager()
    store_scope_field = "id"

    class Meta:
        ordering = ["code"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OPERATOR = "operator", _("Operator")
    STORE_MANAGER = "store_manager", _("Store manager")
    STORE_STAFF = "store_staff", _("Store staff")


STORE_ROLES = (Role.STORE_MANAGER, Role.STORE_STAFF)


class StaffManager(UserManager.from_queryset(ScopedQuerySet)):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.OPERATOR)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A staff account. Operators see every store; store managers and staff see their own."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.STORE_STAFF)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="staff"
    )
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    objects = StaffManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["username"]
        verbose_name = _("staff account")
        verbose_name_plural = _("staff accounts")
        constraints = [
            models.CheckConstraint(
                name="store_role_has_store",
                condition=Q(role="operator") | Q(store__isnull=False),
                violation_error_message=_("Store managers and store staff must belong to a store."),
            )
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_operator(self) -> bool:
        return self.role == Role.OPERATOR

    @property
    def is_store_role(self) -> bool:
        return self.role in STORE_ROLES


class ApiKey(models.Model):
    """A credential for an integration. Only a SHA-256 of the key is stored; the key is shown once."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scopes = ArrayField(models.CharField(max_length=64), verbose_name=_("scopes"), default=list, blank=True)
    store = models.ForeignKey(
        Store,
        verbose_name=_("limited to store"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_keys",
        help_text=_("Leave empty for a brand-wide integration."),
    )
    created_by = models.ForeignKey(
        User, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_active(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def scope_groups(self) -> list[dict]:
        """The key's scopes by resource, for people: [{"label", "access"}] with access "read",
        "write" or "read, write" (translated), in the registry's order."""
        from scrm import permissions

        held = set(self.scopes)
        groups = []
        for res in permissions.resources().values():
            access = [str(word) for scope, word in ((res.read_scope, _("read")), (res.write_scope, _("write")))
                      if scope in held]
            if access:
                groups.append({"label": res.label, "access": ", ".join(access)})
        return groups


class AuditLog(models.Model):
    """Who read, exported or changed personal data, and when. Append-only."""

    created_at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        User, verbose_name=_("staff member"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, verbose_name=_("API key"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    detail = models.JSONField(_("details"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_type} {self.object_id}"


class ServiceHeartbeat(models.Model):
    """Last sign of life from the worker and the scheduler, shown on the home page."""

    name = models.CharField(max_length=32, primary_key=True)
    seen_at = models.DateTimeField()

    store_scope_field = None

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%H:%M:%S}"


class IdempotencyKey(models.Model):
    """A POST sent with an `Idempotency-Key` header, and the answer it got: a retry with the same key
    (and the same request) is answered from here instead of being carried out again. Keyed by the
    caller's credential, kept 24 hours (scrm.api.idempotency)."""

    credential = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    body_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(default=0)  # 0 only inside the first request's transaction
    response_body = models.TextField(blank=True)  # the JSON exactly as first answered
    created_at = models.DateTimeField(db_index=True)

    store_scope_field = None  # never listed: read only by the API's idempotency layer, per credential

    class Meta:
        constraints = [models.UniqueConstraint(fields=["credential", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return f"{self.credential} {self.key}"


class Event(models.Model):
    """Something that happened to a member or in the brand, for the systems that listen (webhooks,
    replay): written by `scrm.events.emit*` in the same transaction as the change, so it exists if
    and only if the change committed. Carries ids and what changed, never a member's personal data
    beyond the fields its type names as personal (blanked when the member is erased). The id is the
    event's stable identity: every delivery and every replay of it carries the same one."""

    type = models.CharField(_("type"), max_length=64)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    member_id = models.BigIntegerField(_("member"), null=True, blank=True)  # no FK: members is above scrm
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False,
    )
    data = models.JSONField(_("data"), default=dict, blank=True)
    relayed = models.BooleanField(default=False)  # handed to the subscriptions (webhooks' fan-out)

    objects = ScopedManager()
    store_scope_field = "store"

    class Meta:
        ordering = ["id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["occurred_at"], name="scrm_event_occurred"),
            models.Index(fields=["member_id", "id"], name="scrm_event_member"),
            models.Index(fields=["store", "id"], name="scrm_event_store"),
            models.Index(fields=["id"], name="scrm_event_unrelayed", condition=models.Q(relayed=False)),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"
