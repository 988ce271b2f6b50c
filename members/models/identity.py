from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models.member import Member
from scrm.scoping import ScopedManager


class Channel(models.TextChoices):
    """Where an identity comes from. One member has any number of them (the "1+N" pools)."""

    WECOM = "wecom", _("WeCom external contact")
    WECHAT_UNIONID = "wechat_unionid", _("WeChat unionid")
    WECHAT_OPENID = "wechat_openid", _("WeChat openid (official account)")
    MINIPROGRAM = "miniprogram", _("Mini-program openid")
    TMALL = "tmall", _("Tmall")
    DOUYIN = "douyin", _("Douyin")
    XIAOHONGSHU = "xiaohongshu", _("Xiaohongshu")
    POS = "pos", _("POS member card")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email address")


class Identity(models.Model):
    """One way we know a person on one channel. (channel, namespace, external_id) is unique across
    the brand: `namespace` separates apps and shops of the same channel (an official account's
    appid, a Tmall shop id) and is empty where the id is brand-wide (unionid, phone)."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, db_index=False, related_name="identities"
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    namespace = models.CharField(_("namespace"), max_length=64, blank=True, default="")
    external_id = models.CharField(_("external id"), max_length=128)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(fields=["channel", "namespace", "external_id"], name="identity_unique"),
        ]
        indexes = [models.Index(fields=["member"], name="identity_member")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.namespace + '/' if self.namespace else ''}{self.external_id}"
