from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models.member import Member
from scrm.models import Store
from scrm.scoping import ScopedManager


class NoteKind(models.TextChoices):
    NOTE = "note", _("Note")
    VISIT = "visit", _("Store visit")
    CALL = "call", _("Call or chat")
    FOLLOW_UP = "follow_up", _("Follow-up")
    COMPLAINT = "complaint", _("Complaint")


class ServiceNote(models.Model):
    """What a store learned serving a member ("prefers Cantonese", "allergic to nuts")."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, db_index=False, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_label = models.CharField(
        max_length=100, blank=True, default="", db_default="", help_text=_("API key that wrote it")
    )
    store = models.ForeignKey(Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=NoteKind.choices, default=NoteKind.NOTE)
    body = models.TextField(_("note"), max_length=2000)
    pinned = models.BooleanField(_("pinned"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["-pinned", "-created_at"]
        verbose_name = _("service note")
        verbose_name_plural = _("service notes")
        indexes = [models.Index(fields=["member", "-created_at"], name="note_member_recent")]

    def __str__(self) -> str:
        return self.body[:40]
