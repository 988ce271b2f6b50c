"""Handing the communities' outbox rows (reminders, invitations, feedback requests) to the registered
notice sender (communities.hooks), a batch per transaction, each row exactly once.

A round is one transaction: it claims up to `batch` unhanded rows in id order with FOR UPDATE SKIP
LOCKED (two workers take different rows and never wait on each other), lets the caller send them or
say why not, and writes handed_at and handed_to back in one statement, so the sender's deliveries and
the marks commit together. A sender that raises rolls its round back: those rows wait for the next
tick (rounds already committed stay handed) and the error goes to the caller. With no sender
registered nothing is claimed and nothing is lost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from django.db import connection, transaction

from communities import hooks

# Given the sender and the claimed ids (ascending), answers (id, ref) for each of them: what the
# sender answered for it, or a short word saying why it was not sent ("expired", "answered").
Hand = Callable[[hooks.NoticeSender, list[int]], Iterable[tuple[int, str | None]]]


def hand_over(*, table: str, hand: Hand, now: dt.datetime, batch: int, max_rounds: int, where: str = "",
              stop_when_short: bool = True) -> int:
    """Hand the unhanded rows of `table` (aliased t; `where` narrows the claim further, e.g. to one
    group) over at most `max_rounds` rounds; returns how many rows were handed or marked. A round
    that claims fewer than `batch` ends the hand-over, unless `stop_when_short` is off: where
    `where` claims a group at a time, a short round means that group is done, not that none waits."""
    sender = hooks.notice_sender()
    if sender is None:
        return 0
    claim = (f"SELECT t.id FROM {table} t WHERE t.handed_at IS NULL {f'AND ({where})' if where else ''} "
             "ORDER BY t.id LIMIT %s FOR UPDATE OF t SKIP LOCKED")
    total = 0
    for _round in range(max_rounds):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(claim, [batch])
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                break
            refs = dict(hand(sender, ids))
            if refs.keys() != set(ids):
                # A claimed row left out would be claimed again next round, and sent twice.
                raise ValueError(f"hand-over of {table}: answered for {sorted(refs)}, claimed {ids}")
            cursor.execute(
                f"UPDATE {table} t SET handed_at = %s, handed_to = r.ref "
                "FROM unnest(%s::bigint[], %s::text[]) AS r(id, ref) WHERE t.id = r.id",
                [now, ids, [str(refs[i] or "")[:64] for i in ids]])
            total += len(ids)
        if stop_when_short and len(ids) < batch:
            break
    return total
