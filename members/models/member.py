"""Members: one person across every channel the brand reaches them through."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrm.models import Store
from scrm.scoping import ScopedManager


class Gender(models.TextChoices):
    UNKNOWN = "u", _("Unknown")
    FEMALE = "f", _("Female")
    MALE = "m", _("Male")


class Stage(models.TextChoices):
    """The 5A relationship stages: how close a member is to the brand."""

    AWARE = "aware", _("Aware")
    APPEAL = "appeal", _("Appeal")
    ASK = "ask", _("Ask")
    ACT = "act", _("Act")
    ADVOCATE = "advocate", _("Advocate")


class Source(models.TextChoices):
    STORE_QR = "store_qr", _("Store QR code")
    ORDER = "order", _("Order")
    AD = "ad", _("Advertising")
    REFERRAL = "referral", _("Referral")
    EVENT = "event", _("Event")
    IMPORT = "import", _("Import")
    OTHER = "other", _("Other")


class LiveMemberManager(ScopedManager):
    """Members not merged away and not erased: `Member.live.visible_to(actor)` for lists."""

    def get_queryset(self):
        from members.sql import LIVE  # members.sql names these models' tables, so it imports them

        return super().get_queryset().filter(**LIVE)


class Member(models.Model):
    name = models.CharField(_("name"), max_length=64)
    phone = models.CharField(_("phone"), max_length=20, blank=True, help_text=_("E.164, e.g. +8613800138000"))
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, default=Gender.UNKNOWN)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    home_store = models.ForeignKey(
        Store,
        verbose_name=_("home store"),
        on_delete=models.PROTECT,
        db_index=False,
        null=True,
        blank=True,
        related_name="members",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner (shopping guide)"),
        on_delete=models.SET_NULL,
        db_index=False,
        null=True,
        blank=True,
        related_name="owned_members",
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.OTHER)
    stage = models.CharField(_("5A stage"), max_length=10, choices=Stage.choices, default=Stage.AWARE)
    attributes = models.JSONField(
        _("custom attributes"), default=dict, blank=True, help_text=_("Values of the attributes operators declare.")
    )
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_members",
        help_text=_("Set when this profile was a duplicate; everything now lives on the other one."),
    )
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    created_at = models.DateTimeField(_("joined at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedManager()
    live = LiveMemberManager()  # what lists, counts and sends use

    store_scope_field = "home_store"

    class Meta:
        ordering = ["-id"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [
            models.Index(fields=["home_store", "-id"], name="member_store_recent"),
            models.Index(fields=["owner", "-id"], name="member_owner_recent"),
            models.Index(fields=["phone"], name="member_phone"),
            models.Index(fields=["created_at"], name="member_created"),
            GinIndex(fields=["name"], name="member_name_trgm", opclasses=["gin_trgm_ops"]),
            GinIndex(fields=["attributes"], name="member_attributes", opclasses=["jsonb_path_ops"]),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_live(self) -> bool:
        """False for a merged duplicate or an erased profile: neither is counted, listed or messaged."""
        return self.merged_into_id is None and self.erased_at is None
