from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models.member import Member
from scrm.scoping import ScopedManager


class ConsentPurpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing messages")
    SENSITIVE_DATA = "sensitive_data", _("Sensitive personal data")
    GUARDIAN = "guardian", _("Guardian consent for a child's data")
    PROFILING = "profiling", _("Personalised recommendations")


class ConsentChannel(models.TextChoices):
    ALL = "all", _("All channels")
    WECOM = "wecom", _("WeCom")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat official account / mini-program")
    EMAIL = "email", _("Email")
    PHONE_CALL = "phone_call", _("Phone call")


class Consent(models.Model):
    """The current answer of a member for one purpose on one channel. Every change is also kept in
    ConsentRecord. Sends check it: a withdrawn or missing marketing consent means no message."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, db_index=False, related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=16, choices=ConsentPurpose.choices)
    channel = models.CharField(_("channel"), max_length=12, choices=ConsentChannel.choices, default=ConsentChannel.ALL)
    granted = models.BooleanField(_("granted"))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(fields=["member", "purpose", "channel"], name="consent_unique"),
        ]
        indexes = [models.Index(fields=["purpose", "channel", "granted"], name="consent_lookup")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.purpose}/{self.channel}={'yes' if self.granted else 'no'}"


class ConsentRecord(models.Model):
    """Append-only history of consent given and withdrawn, with where it came from."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, db_index=False, related_name="consent_records"
    )
    purpose = models.CharField(_("purpose"), max_length=16, choices=ConsentPurpose.choices)
    channel = models.CharField(_("channel"), max_length=12, choices=ConsentChannel.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=32, blank=True, help_text=_("store, api, form, import..."))
    evidence = models.CharField(_("evidence"), max_length=255, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    recorded_by_label = models.CharField(
        _("recorded by (API key or rule)"),
        max_length=100, blank=True, default="", db_default="", help_text=_("API key or rule that recorded it")
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        indexes = [models.Index(fields=["member", "-recorded_at"], name="consent_record_member")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.purpose}/{self.channel} {'granted' if self.granted else 'withdrawn'}"
