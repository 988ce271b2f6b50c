from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models.member import Member
from scrm.scoping import ScopedManager


class TagGroup(models.Model):
    """Tags come in groups ("Milk powder brand", "Dialect"); a single-choice group lets a member
    carry at most one of its tags."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    multiple = models.BooleanField(_("multiple choice"), default=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    store_scope_field = None  # brand-wide vocabulary

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name = _("tag group")
        verbose_name_plural = _("tag groups")

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """A tag. A rule tag has a `rule` (a segment definition) and is kept current by Celery;
    it cannot be added or removed by hand."""

    group = models.ForeignKey(
        TagGroup, verbose_name=_("group"), on_delete=models.PROTECT, db_index=False, related_name="tags"
    )
    name = models.CharField(_("name"), max_length=64)
    rule = models.JSONField(_("rule"), null=True, blank=True)
    rule_refreshed_at = models.DateTimeField(_("rule last applied"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    store_scope_field = None

    class Meta:
        ordering = ["group__sort_order", "group__name", "name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [models.UniqueConstraint(fields=["group", "name"], name="tag_unique_in_group")]

    def __str__(self) -> str:
        return self.name

    @property
    @admin.display(description=_("rule tag"), boolean=True)
    def is_rule(self) -> bool:
        return self.rule is not None


class TagSource(models.TextChoices):
    MANUAL = "manual", _("By hand")
    BULK = "bulk", _("In bulk")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    RULE = "rule", _("Rule")
    WECOM = "wecom", _("WeCom")


class MemberTag(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, db_index=False, related_name="member_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, db_index=False, related_name="member_tags")
    source = models.CharField(max_length=8, choices=TagSource.choices, default=TagSource.MANUAL)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_by_label = models.CharField(
        max_length=100, blank=True, default="", db_default="", help_text=_("API key or rule that added it")
    )
    added_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        verbose_name = _("member tag")
        verbose_name_plural = _("member tags")
        constraints = [models.UniqueConstraint(fields=["member", "tag"], name="member_tag_unique")]
        indexes = [models.Index(fields=["tag", "member"], name="member_tag_by_tag")]

    def __str__(self) -> str:
        return f"{self.member_id}:{self.tag_id}"
