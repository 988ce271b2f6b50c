"""The WeCom customer-group channel (客户群群发): a campaign to customer groups, one add_msg_template
task (chat_type "group") per group owner with their chat_id_list, sent once the owner confirms it in
WeCom. It has no member deliveries: the tick hands the campaign to `run` (its GroupDelivery rows,
campaigns.services.group_messages), whose intents and read-back are wecom_tasks'."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns import content
from campaigns.channels.base import Channel, Outgoing, Result
from campaigns.services import group_messages, wecom_tasks
from scrm.errors import InvalidInput


class WecomGroupChannel(Channel):
    code = group_messages.CHANNEL
    label = gettext_lazy("WeCom customer group message")
    consent_channel = "wecom"
    max_text_bytes = 4000
    sends_to_groups = True

    def address_sql(self, member: str) -> str:
        return "NULL"  # no member is addressed: the groups are

    def unavailable(self) -> str | None:
        if wecom_tasks.configured():
            return None
        return _("WeCom is not connected: set WECOM_CORP_ID and WECOM_SECRET (WeCom → Connection) before "
                 "sending to customer groups.")

    def check(self, text: str) -> None:
        if (reason := self.unavailable()) is not None:
            raise InvalidInput(details={"channel": [reason]})
        used = content.fields_of(text)
        if used:
            raise InvalidInput(details={"content": [
                _("A group message is one text for everyone in the group: personal fields (%(fields)s) cannot be "
                  "filled in.") % {"fields": ", ".join("{" + f + "}" for f in used)}
            ]})

    def run(self, campaign, *, now) -> int:
        return group_messages.run(campaign, now=now)

    def send(self, batch: list[Outgoing]) -> list[Result]:
        return []  # never claimed: a group campaign has no member deliveries

