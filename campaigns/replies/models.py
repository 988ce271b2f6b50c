"""Replies: a text a member sent back to the brand's SMS number (a mobile-originated message), as the
SMS provider reported it through its signed callback (campaigns.replies.services).

One row per provider message id (unique: a callback the provider repeats is stored once). `member` is
the member the number belongs to (the one last sent an SMS from it, else its only live member);
`campaign` and `delivery_id` the last SMS delivery sent to that number before the reply, within
MATCH_DAYS. A reply from a number no member has keeps no number and no text, only its id (so a
repeated callback stays a duplicate). `opted_out` says the reply was an unsubscribe keyword and the
member's SMS consent was withdrawn with it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from members.models import Member
from scrm.scoping import ScopedManager

TEXT_MAX = 1000  # a long reply is cut here (a concatenated SMS of 5+ segments)
PHONE_MAX = 20
MESSAGE_ID_MAX = 128


class Reply(models.Model):
    provider_message_id = models.CharField(_("provider message id"), max_length=MESSAGE_ID_MAX, unique=True)
    # No database foreign keys, like the deliveries and clicks: members are erased, never deleted, and
    # a deleted campaign's replies go through the ORM's cascade.
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_constraint=False, db_index=False,
    )  # reply_member_time leads with member
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_constraint=False, db_index=False,
    )  # reply_campaign_member leads with campaign
    delivery_id = models.BigIntegerField(_("delivery"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=PHONE_MAX, blank=True, default="")
    text = models.CharField(_("text"), max_length=TEXT_MAX, blank=True, default="")
    opted_out = models.BooleanField(_("opted out"), default=False)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        indexes = [
            # A member's replies by time: the journeys' "replied" branch, the export and the timeline.
            models.Index(fields=["member", "received_at"], name="reply_member_time"),
            models.Index(fields=["campaign", "member"], name="reply_campaign_member"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_message_id} ({self.member_id or '-'})"
