"""What campaigns plug into the registries of the apps below it (and the API scopes), called once
from its AppConfig.ready()."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from scrm import events, permissions


def register() -> None:
    from campaigns import channels, privacy, timeline
    from campaigns.channels.mail import MailChannel
    from campaigns.channels.outbox import OutboxChannel
    from campaigns.channels.sms import SmsChannel
    from campaigns.channels.webhook import WebhookChannel
    from campaigns.channels.wecom import WecomChannel

    permissions.register("campaigns", _("Campaigns, their deliveries and the outbox"), store_roles="write")
    permissions.register("send_policy", _("Send policy: frequency caps and quiet hours"), store_roles="read",
                         brand_setting=True)
    events.register_type("delivery.state_changed",
                         _("A campaign's message to a member was sent, accepted, failed or suppressed"),
                         resource="campaigns")
    channels.register(OutboxChannel())
    channels.register(SmsChannel())  # refuses campaigns until SIYU_SMS_URL and SIYU_SMS_KEY are set
    channels.register(WebhookChannel())  # ... SIYU_WEBHOOK_URL and SIYU_WEBHOOK_SECRET
    channels.register(MailChannel())  # ... SIYU_SMTP_HOST and SIYU_SMTP_FROM
    channels.register(WecomChannel())  # refuses campaigns while no WeCom corp is connected
    from campaigns.channels.wecom_group import WecomGroupChannel

    channels.register(WecomGroupChannel())  # customer groups; refuses campaigns like WecomChannel
    privacy.register()
    timeline.register()

    from campaigns.services import wecom_tasks
    from scrm import overview

    overview.register("wecom_sends", template="campaigns/_today_wecom.html", context=wecom_tasks.waiting_for,
                      order=5, page="today")

    from campaigns.models import MemberSendDay
    from campaigns.services import respect
    from members.services import merge

    merge.register_handler(MemberSendDay, "member", respect.merge_send_days)

    from campaigns.services import notices
    from communities import hooks as community_hooks

    community_hooks.register_notice_sender(notices.send_event_notices)  # event reminders become campaigns
