"""The WeCom customer mass-message channel (客户群发): a send batch becomes one task per staff member
(add_msg_template, single chat, up to 10,000 customers), answered ACCEPTED with the task's msgid;
nothing reaches a customer until the staff member confirms it in WeCom, which polling reads back
(campaigns.services.wecom_results). Each member is reached through the one relation chosen at
fan-out (their owner's follow, else the latest), and exactly one task carries them: the intent
ledger and the read-back are in campaigns.services.wecom_tasks."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns import content
from campaigns.channels.base import Channel, Outgoing, Result
from campaigns.services import wecom_tasks
from scrm.errors import InvalidInput


class WecomChannel(Channel):
    code = "wecom"
    label = gettext_lazy("WeCom customer mass message")
    consent_channel = "wecom"
    max_text_bytes = 4000
    # One claim should hold a staff member's whole share where it can: each batch is one task per
    # staff member, and every task is one more confirmation for them.
    batch_size = wecom_tasks.MAX_CUSTOMERS
    claim_order = "d.staff_id, d.id"
    # add_msg_template's attachments: images and mini-program covers go up as temporary media at
    # send time (campaigns.services.attachments.wecom_attachments).
    attachment_kinds = frozenset({"image", "link", "miniprogram"})
    max_attachments = 9

    def address_sql(self, member: str) -> str:
        return wecom_tasks.address_sql(member)

    def recipient_sql(self, member: str) -> str:
        return wecom_tasks.recipient_sql(member)

    def recipients_sql(self) -> str:
        return wecom_tasks.recipients_sql()

    def unavailable(self) -> str | None:
        if wecom_tasks.configured():
            return None
        return _("WeCom is not connected: set WECOM_CORP_ID and WECOM_SECRET (WeCom → Connection) before "
                 "sending through it.")

    def check(self, text: str) -> None:
        if (reason := self.unavailable()) is not None:
            raise InvalidInput(details={"channel": [reason]})
        used = content.fields_of(text)
        if used:
            raise InvalidInput(details={"content": [
                _("A WeCom mass message is one text for all of a staff member's customers: personal fields "
                  "(%(fields)s) cannot be filled in.") % {"fields": ", ".join("{" + f + "}" for f in used)}
            ]})

    def send(self, batch: list[Outgoing]) -> list[Result]:
        return wecom_tasks.send(batch)

    def settle(self, batch: list[Outgoing]) -> dict[int, Result]:
        return wecom_tasks.settle(batch)
