"""Providers for the reliability tests, registered as channels in the test process and in the worker
processes it starts: the outbox's own write (one message per delivery key), plus a record of every
delivery handed over again after the provider already had it (what a provider without an idempotency
key would have sent twice), and a provider that accepts a batch and then times out.

Behaviour comes from the environment, so a worker subprocess behaves as the test asks:
SIYU_PROVIDER_PAUSE_BEFORE and SIYU_PROVIDER_PAUSE (seconds before accepting a batch, and after
accepting it before answering: the windows a kill -9 lands in),
SIYU_PROVIDER_TIMEOUT (seconds slept after accepting before raising TimeoutError) and
SIYU_PROVIDER_TIMEOUT_SHARE (share of batches that time out), SIYU_PROVIDER_BATCH (deliveries per
call, for a Celery worker whose channels the test cannot reach otherwise)."""

from __future__ import annotations

import os
import random
import time

from django.db import connection, transaction

from campaigns import channels
from campaigns.channels.base import Outcome, Result
from campaigns.channels.outbox import TABLE, OutboxChannel

REPEATS = "campaigns_test_repeat"


def create_repeats_table(cursor) -> None:
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {REPEATS} (campaign_id bigint, member_id bigint, delivery_id bigint, "
                   "at timestamptz DEFAULT now())")


class RecordingOutbox(OutboxChannel):
    code = "recording_outbox"
    label = "recording outbox"
    batch_size = 100

    def __init__(self) -> None:
        self.rng = random.Random(os.getpid())
        self.batch_size = int(os.environ.get("SIYU_PROVIDER_BATCH") or type(self).batch_size)

    def _float(self, name: str) -> float:
        return float(os.environ.get(name) or 0)

    def send(self, batch):
        if not batch:
            return []
        time.sleep(self._float("SIYU_PROVIDER_PAUSE_BEFORE"))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (campaign_id, member_id, delivery_id, address, text, attachments, "
                "created_at) SELECT *, '[]'::jsonb, now() "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[]) "
                "ON CONFLICT (campaign_id, member_id) DO NOTHING RETURNING id, member_id",
                [[o.campaign_id for o in batch], [o.member_id for o in batch], [o.delivery_id for o in batch],
                 [o.address for o in batch], [o.text for o in batch]],
            )
            written = {member_id: pk for pk, member_id in cursor.fetchall()}
            again = [o for o in batch if o.member_id not in written]
            if again:
                cursor.execute(
                    f"INSERT INTO {REPEATS} (campaign_id, member_id, delivery_id) "
                    "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[])",
                    [[o.campaign_id for o in again], [o.member_id for o in again], [o.delivery_id for o in again]],
                )
        found = {o.delivery_id: Result(o.delivery_id, Outcome.SENT,
                                       provider_message_id=f"outbox:{written[o.member_id]}")
                 for o in batch if o.member_id in written}
        found |= self.settle(again)
        if self.rng.random() < self._float("SIYU_PROVIDER_TIMEOUT_SHARE"):
            time.sleep(self._float("SIYU_PROVIDER_TIMEOUT"))
            raise TimeoutError("the provider took the batch but did not answer in time")
        time.sleep(self._float("SIYU_PROVIDER_PAUSE"))
        return [found.get(o.delivery_id) or Result(o.delivery_id, Outcome.RETRY, error="not written") for o in batch]


class ForgetfulOutbox(RecordingOutbox):
    """Cannot look its sends up: an expired lease is always sent again (what the checks must catch)."""

    code = "forgetful_outbox"
    label = "forgetful outbox"

    def settle(self, batch):
        return {}


def register() -> None:
    channels.register(RecordingOutbox())
    channels.register(ForgetfulOutbox())


def unregister() -> None:
    for code in (RecordingOutbox.code, ForgetfulOutbox.code):
        channels._CHANNELS.pop(code, None)
