"""A campaign's short links and the clicks on them.

A ShortLink is one http(s) URL of one campaign's text, under a random code. A Click is one follow of
`/l/<code>/<token>`: the campaign and the member the token names (the delivery key, campaign and
member), or no member when the token was missing or did not verify. No IP address is kept; the user
agent is cut to USER_AGENT_MAX characters. `minute` makes a member's repeated clicks on one link
within a minute one click (a unique key the INSERT skips on conflict)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.links.text import TARGET_MAX
from campaigns.models import Campaign
from members.models import Member
from scrm.scoping import ScopedManager

USER_AGENT_MAX = 200


class ShortLink(models.Model):
    code = models.CharField(_("code"), max_length=16, unique=True)
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="+", db_index=False
    )  # link_once_per_campaign leads with campaign
    target_url = models.CharField(_("target URL"), max_length=TARGET_MAX)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "campaign__store"

    class Meta:
        ordering = ["id"]
        verbose_name = _("short link")
        verbose_name_plural = _("short links")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "target_url"], name="link_once_per_campaign"),
        ]

    def __str__(self) -> str:
        return f"{self.code} -> {self.target_url}"


class Click(models.Model):
    # No database foreign keys on the hot insert; a campaign's deletion removes its links' clicks
    # through the ORM's cascade, and members are erased, never deleted.
    link = models.ForeignKey(
        ShortLink, verbose_name=_("link"), on_delete=models.CASCADE, related_name="clicks", db_constraint=False,
        db_index=False,
    )  # click_once_a_minute leads with link
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="+", db_constraint=False,
        db_index=False,
    )  # click_campaign_member leads with campaign
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        db_constraint=False, db_index=False,
    )  # click_member_time leads with member
    clicked_at = models.DateTimeField(_("clicked at"), default=timezone.now)
    minute = models.DateTimeField(_("minute"), help_text=_("clicked_at to the minute: one click per member a minute."))
    user_agent = models.CharField(_("browser"), max_length=USER_AGENT_MAX, blank=True, default="")

    objects = ScopedManager()
    store_scope_field = "campaign__store"

    class Meta:
        ordering = ["-clicked_at", "-id"]
        verbose_name = _("click")
        verbose_name_plural = _("clicks")
        constraints = [
            models.UniqueConstraint(fields=["link", "member", "minute"], name="click_once_a_minute"),
        ]
        indexes = [
            models.Index(fields=["campaign", "member"], name="click_campaign_member"),
            # A member's clicks by time: the last touch before an order, the export and the timeline.
            models.Index(fields=["member", "clicked_at"], name="click_member_time"),
        ]

    def __str__(self) -> str:
        return f"{self.link_id}/{self.member_id or '-'} @ {self.clicked_at:%Y-%m-%d %H:%M}"


class StaffTestLink(models.Model):
    """A link of one test send to staff (campaigns.services.test_sends): its own code, followed as
    `/l/<code>/<test token>` (tokens.make_for_test), which redirects like a campaign's link. Opening
    it only counts here, on the test send: it is never a Click, so no result, funnel, attribution,
    journey or segment of the campaign sees it. A test link holds no member."""

    code = models.CharField(_("code"), max_length=16, unique=True)
    test_send = models.ForeignKey(
        "campaigns.StaffTestSend", verbose_name=_("test send"), on_delete=models.CASCADE, related_name="links",
        db_index=False,  # test_link_once leads with test_send
    )
    target_url = models.CharField(_("target URL"), max_length=TARGET_MAX)
    opened = models.PositiveIntegerField(_("times opened"), default=0)
    last_opened_at = models.DateTimeField(_("last opened"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "test_send__campaign__store"

    class Meta:
        ordering = ["id"]
        verbose_name = _("test send link")
        verbose_name_plural = _("test send links")
        constraints = [
            models.UniqueConstraint(fields=["test_send", "target_url"], name="test_link_once"),
        ]

    def __str__(self) -> str:
        return f"{self.code} -> {self.target_url} (test)"
