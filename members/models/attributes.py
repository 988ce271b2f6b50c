from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AttributeType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    MONTH = "month", _("Month (YYYY-MM)")
    BOOLEAN = "boolean", _("Yes / no")
    CHOICE = "choice", _("One of a list")
    MULTI_CHOICE = "multi_choice", _("Several of a list")


class AttributeDefinition(models.Model):
    """A custom attribute operators declare ("child's birth month", "milk powder brand", "allergy").
    Values live in Member.attributes under `code` and are validated against `type` and `choices`.
    Sensitive attributes (health, children) need the member's sensitive-data consent; attributes about
    a child (`requires_guardian`) need the guardian's consent as well."""

    code = models.SlugField(_("code"), max_length=48, unique=True)
    label = models.CharField(_("label"), max_length=64)
    type = models.CharField(_("type"), max_length=16, choices=AttributeType.choices)
    choices = ArrayField(models.CharField(max_length=64), verbose_name=_("choices"), default=list, blank=True)
    sensitive = models.BooleanField(_("sensitive"), default=False)
    requires_guardian = models.BooleanField(
        _("child's data"),
        default=False,
        db_default=False,
        help_text=_("About a child: values need the guardian's consent."),
    )
    help_text = models.CharField(_("help text"), max_length=255, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    store_scope_field = None

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("custom attribute")
        verbose_name_plural = _("custom attributes")

    def __str__(self) -> str:
        return self.label
