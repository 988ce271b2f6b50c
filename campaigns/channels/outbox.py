"""The built-in outbox channel: a sent message is an OutboxMessage row, readable through the API
(/api/v1/outbox/), keyed by its delivery (campaign, member), so a retried or repeated send writes
nothing twice and an unknown outcome is settled by looking the row up. The row keeps the recipient's
attachments as they were sent (a link attachment's url is the member's tracked link)."""

from __future__ import annotations

import json

from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from campaigns.channels.base import Channel, Outcome, Outgoing, Result
from campaigns.models import OutboxMessage
from members import sql as members_sql

TABLE = OutboxMessage._meta.db_table


class OutboxChannel(Channel):
    code = "outbox"
    label = _("Outbox (built in)")
    consent_channel = "all"
    max_text_bytes = 4000
    batch_size = 2000
    attachment_kinds = frozenset({"image", "link", "miniprogram"})  # recorded with the text
    max_attachments = 9

    def address_sql(self, member: str) -> str:
        # The member's phone, else any identity they have (channel:id): the outbox only records.
        return (
            f"coalesce(nullif({member}.phone, ''), (SELECT i.channel || ':' || i.external_id "
            f"FROM {members_sql.IDENTITY} i WHERE i.member_id = {member}.id ORDER BY i.id LIMIT 1))"
        )

    def send(self, batch: list[Outgoing]) -> list[Result]:
        if not batch:
            return []
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (campaign_id, member_id, delivery_id, address, text, attachments, created_at) "
                "SELECT k.c, k.m, k.d, k.a, k.t, k.j::jsonb, now() "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[]) "
                "AS k(c, m, d, a, t, j) "
                "ON CONFLICT (campaign_id, member_id) DO NOTHING RETURNING id, member_id",
                [
                    [o.campaign_id for o in batch], [o.member_id for o in batch], [o.delivery_id for o in batch],
                    [o.address for o in batch], [o.text for o in batch],
                    [json.dumps(list(o.attachments), ensure_ascii=False) for o in batch],
                ],
            )
            written = {member_id: pk for pk, member_id in cursor.fetchall()}  # a batch is one campaign's
        found = {
            o.delivery_id: Result(o.delivery_id, Outcome.SENT, provider_message_id=f"outbox:{written[o.member_id]}")
            for o in batch if o.member_id in written
        }
        # Rows already there (a send repeated after a crash) are found by their key.
        found |= self.settle([o for o in batch if o.delivery_id not in found])
        return [found.get(o.delivery_id) or Result(o.delivery_id, Outcome.RETRY, error="not written") for o in batch]

    def settle(self, batch: list[Outgoing]) -> dict[int, Result]:
        if not batch:
            return {}
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT o.id, k.delivery_id FROM {TABLE} o "
                "JOIN unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS k(campaign_id, member_id, delivery_id) "
                "ON o.campaign_id = k.campaign_id AND o.member_id = k.member_id",
                [[o.campaign_id for o in batch], [o.member_id for o in batch], [o.delivery_id for o in batch]],
            )
            return {
                delivery_id: Result(delivery_id, Outcome.SENT, provider_message_id=f"outbox:{message_id}")
                for message_id, delivery_id in cursor.fetchall()
            }
