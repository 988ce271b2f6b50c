from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models.member import Member
from scrm.models import Store
from scrm.scoping import ScopedManager


class AddWay(models.TextChoices):
    QR = "qr", _("Staff QR code")
    STORE_CODE = "store_code", _("Store code")
    REFERRAL = "referral", _("Referral")
    SEARCH = "search", _("Search by phone")
    GROUP = "group", _("From a group chat")
    CARD = "card", _("Shared contact card")
    IMPORT = "import", _("Import")
    OTHER = "other", _("Other")


class StaffRelation(models.Model):
    """A staff member following a member, as a WeCom contact does: how and when they were added, the
    staff's remark, and who deleted whom. One relation per member is the owner (the shopping guide
    the member belongs to); Member.owner mirrors it for fast filtering."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, db_index=False, related_name="relations"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff"),
        on_delete=models.CASCADE,
        db_index=False,
        related_name="member_relations",
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    add_way = models.CharField(_("added by"), max_length=16, choices=AddWay.choices, default=AddWay.OTHER)
    state = models.CharField(
        _("QR state"), max_length=64, blank=True, help_text=_("The 'state' of the QR code or link the member used.")
    )
    referrer = models.ForeignKey(
        Member, verbose_name=_("referred by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    remark = models.CharField(_("staff's remark"), max_length=100, blank=True)
    description = models.CharField(_("description"), max_length=255, blank=True)
    is_owner = models.BooleanField(_("owner"), default=False)
    added_at = models.DateTimeField(_("added at"), default=timezone.now)
    staff_deleted_at = models.DateTimeField(_("staff deleted the member at"), null=True, blank=True)
    member_deleted_at = models.DateTimeField(_("member deleted the staff at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        verbose_name = _("staff relation")
        verbose_name_plural = _("staff relations")
        constraints = [
            models.UniqueConstraint(fields=["member", "staff"], name="relation_unique"),
            models.UniqueConstraint(fields=["member"], condition=Q(is_owner=True), name="relation_one_owner"),
        ]
        indexes = [models.Index(fields=["staff", "-added_at"], name="relation_staff_recent")]

    def __str__(self) -> str:
        return f"{self.staff} → {self.member}"

    @property
    def is_active(self) -> bool:
        return self.staff_deleted_at is None and self.member_deleted_at is None
