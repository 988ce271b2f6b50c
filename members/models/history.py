from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models.member import Member
from scrm.scoping import ScopedManager


class MemberEvent(models.Model):
    """The member's timeline: profile changes, identities, merges, consent, erasure. One row per
    event on one member; bulk operations over many members record their own job instead."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        UPDATED = "updated", _("Profile updated")
        IDENTITY_ADDED = "identity_added", _("Identity added")
        IDENTITY_REMOVED = "identity_removed", _("Identity removed")
        MERGED = "merged", _("Duplicate merged in")
        CONSENT = "consent", _("Consent changed")
        RELATION = "relation", _("Staff relation changed")
        STAGE = "stage", _("5A stage changed")
        EXPORTED = "exported", _("Data exported")
        ERASED = "erased", _("Erased")
        TAG_REMOVED = "tag_removed", _("Tag removed")

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, db_index=False, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    data = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    actor_label = models.CharField(
        _("by (API key or rule)"), max_length=100, blank=True, help_text=_("API key or rule that acted")
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("member event")
        verbose_name_plural = _("member events")
        indexes = [models.Index(fields=["member", "-created_at"], name="event_member_recent")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind}"


class MemberMerge(models.Model):
    """A duplicate folded into a survivor: who, when, why, and the duplicate's profile as it was."""

    survivor = models.ForeignKey(
        Member, verbose_name=_("kept profile"), on_delete=models.CASCADE, related_name="merges"
    )
    merged = models.ForeignKey(
        Member, verbose_name=_("merged profile"), on_delete=models.CASCADE, db_index=False, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=64, help_text=_("manual, same_phone, same_unionid..."))
    snapshot = models.JSONField(_("merged profile as it was"), default=dict)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("merged by"), on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    merged_at = models.DateTimeField(_("merged at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "survivor__home_store"

    class Meta:
        verbose_name = _("member merge")
        verbose_name_plural = _("member merges")
        constraints = [models.UniqueConstraint(fields=["merged"], name="merge_once")]

    def __str__(self) -> str:
        return f"{self.merged_id} → {self.survivor_id}"
