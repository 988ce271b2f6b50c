"""What apps above communities plug into it: the sender of event notices (and of invitations).

Communities decide who is told what about an event and when (communities.services.reminders writes
one EventReminder per sign-up and kind: a reminder a day or two hours before, a freed seat offered).
They do not send: the campaigns' engine does, with the member's consent, the frequency caps and the
quiet hours. Campaigns sit above communities, so they register the sender here from their
plugins.py; the hand-over calls it with one NoticeBatch per (event, kind) inside the transaction that
marks the notices handed, so a notice is taken into deliveries exactly once. With no sender
registered the notices wait, never lost, and the event page counts them as waiting.

Invitations to a community (communities.services.invitations) go through the same sender, one
member a batch (each text carries that member's own join link), with no event and kind "invitation";
so do the requests for feedback after an event (communities.services.feedback_requests), one member a
batch with their own feedback link, kind "feedback", marketing, valid until feedback closes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class NoticeBatch:
    """Notices of one kind about one event (or an invitation to a community), for one sender call."""

    event_id: int | None  # None: not about an event (an invitation)
    store_id: int | None  # the event's store (None: a brand-wide event without a host store)
    kind: str  # communities.models.ReminderKind, "invitation" or "feedback"
    name: str  # a short name for the sender's records ("Night run · a day before")
    text: str  # the message, the same for every member of the batch (their ticket is on their phone)
    member_ids: tuple[int, ...]
    notice_ids: tuple[int, ...]
    now: dt.datetime
    # "transactional" for a notice of what the member asked for (a seat they hold or waited for):
    # not held to the marketing caps nor its consent; "marketing" otherwise (campaigns.models.Purpose).
    purpose: str = "marketing"
    valid_until: dt.datetime | None = None  # pointless from then on (the event's start): not sent late


# A sender takes a batch and answers a short reference of what it made of it (a campaign's id).
NoticeSender = Callable[[NoticeBatch], str]

_senders: list[NoticeSender] = []


def register_notice_sender(sender: NoticeSender) -> None:
    """The one sender of event notices (the campaigns' engine). Registering again replaces it."""
    _senders[:] = [sender]


def unregister_notice_sender(sender: NoticeSender) -> None:
    if sender in _senders:
        _senders.remove(sender)


def notice_sender() -> NoticeSender | None:
    return _senders[0] if _senders else None
