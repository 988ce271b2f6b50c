"""Service notices (an event's reminders, a booking's reminders) sent by the campaigns' engine.

The apps below hand over a list of member ids, one text and the notice's purpose; this makes a
campaign of exactly those members, started at once, as a journey's send step does: no segment, its
deliveries written by the fan-out's statement for a list (campaigns.services.fanout.insert_deliveries),
so each member is pending or suppressed with the fan-out's reason, and the sending engine sends the
pending ones with the rules read again at claim time.

A reminder of something the member asked for (an event they signed up for, a booking they made) is
transactional (campaigns.models.Purpose): it is neither held back by the frequency caps nor counted
toward them, and needs no marketing consent; but an explicit no to messages on its channel or on
every channel (an opt-out, a "stop everything") still stops it as opted_out, and so do an erasure, a
merge, a minor without a guardian's consent and no reachable address. Quiet hours defer it; given
`valid_until` (the event's or the booking's start), what is still pending then, or would be held by
quiet hours past it, is suppressed as expired rather than sent late. A marketing notice is a campaign
like any other: counted, and only to members with marketing consent for its channel. Only this
module makes transactional campaigns: the dashboard and the API write marketing ones.

The campaign belongs to the event's or booking's store, but its members are not held to that store:
they are exactly the ones its event or booking named, wherever their home store is.

The channel is settings.SIYU_NOTICE_CHANNEL ("outbox" unless set: the demo default); a channel
that is unavailable (its settings missing, no WeCom corp) falls back to the outbox rather than
losing the notice. An empty list makes nothing. Each hand-over carries a dedupe key (the notices'
ids, hashed): taken under a transaction-scoped advisory lock, a second call with the same key
answers the campaign the first one made, and the deliveries are written ON CONFLICT DO NOTHING,
so a retry never makes a second campaign or a second delivery. The key is the campaign's
created_by_label ("notice:<key>", models.NOTICE_LABEL), which the campaign list's kinds read too.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns import channels, partitions
from campaigns.links import services as links
from campaigns.models import NOTICE_LABEL, Campaign, CampaignStatus, Purpose
from campaigns.services import fanout

DEFAULT_CHANNEL = "outbox"
ADVISORY = 871_400  # pg_advisory_xact_lock's first key: one notice hand-over at a time per dedupe key
LABEL = NOTICE_LABEL  # created_by_label of a notice's campaign: "notice:<dedupe key>"
MAX_MEMBERS = 10_000  # members per hand-over (the hand-overs give at most 1,000)


def channel_code() -> str:
    """The notices' channel: SIYU_NOTICE_CHANNEL when registered and available, else the outbox."""
    code = getattr(settings, "SIYU_NOTICE_CHANNEL", "") or DEFAULT_CHANNEL
    if code not in channels.codes() or getattr(channels.get(code), "sends_to_groups", False):
        return DEFAULT_CHANNEL
    if channels.get(code).unavailable() is not None:
        return DEFAULT_CHANNEL
    return code


def dedupe_key(source: str, ids) -> str:
    """A short key for one hand-over: its source ("event:12:day_before") and its notices' ids."""
    digest = hashlib.sha256(",".join(str(i) for i in sorted(ids)).encode()).hexdigest()[:24]
    return f"{source}:{digest}"[:90]


def _literal(text: str) -> str:
    """The text as campaign content: its braces literal (an event called "{Run}" is not a field)."""
    return text.replace("{", "{{").replace("}", "}}")


@transaction.atomic
def send_notice(*, key: str, name: str, store_id: int | None, text: str, member_ids, purpose: str,
                valid_until: dt.datetime | None = None, now: dt.datetime | None = None,
                channel: str | None = None) -> Campaign | None:
    """Make and start the campaign of one notice for exactly `member_ids` (None for an empty list);
    the same `key` again answers the campaign made the first time and writes nothing new.
    `purpose`: Purpose.TRANSACTIONAL for a reminder of what the member asked for, else
    Purpose.MARKETING. `valid_until`: when the notice becomes pointless (the start of what it reminds
    of); its deliveries not sent by then are suppressed as expired."""
    if purpose not in Purpose.values:
        raise ValueError(f"A notice's purpose is one of {', '.join(Purpose.values)}, not {purpose!r}.")
    ids = sorted({int(i) for i in member_ids})
    if not ids:
        return None
    if len(ids) > MAX_MEMBERS:
        raise ValueError(f"A notice goes to at most {MAX_MEMBERS} members, not {len(ids)}.")
    now = now or timezone.now()
    label = f"{LABEL}{key}"[:100]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ADVISORY, label])
    found = Campaign.objects.filter(created_by_label=label, store_id=store_id).order_by("id").first()
    if found is not None:
        return found
    code = channel or channel_code()
    month = partitions.month_of(now)
    campaign = Campaign.objects.create(
        name=name[:100], store_id=store_id, channel=code, content=_literal(text), status=CampaignStatus.SENDING,
        scheduled_at=now, started_at=now, send_month=month, created_by_label=label, purpose=purpose,
        expires_at=valid_until)
    links.ensure_links(campaign=campaign)
    # No store rule: the members are exactly those the event or booking of this store named,
    # wherever their home store is (a member of another store signed up here is told too).
    fanout.insert_deliveries(campaign=campaign, member_ids=ids, now=now, store_id=None)
    return campaign


def send_event_notices(batch) -> str:
    """communities.hooks' notice sender: one campaign per NoticeBatch, its reference "campaign:<id>"
    ("" when the batch has no members)."""
    key = dedupe_key(f"event:{batch.event_id}:{batch.kind}", batch.notice_ids)
    campaign = send_notice(key=key, name=batch.name, store_id=batch.store_id, text=batch.text,
                           member_ids=batch.member_ids, purpose=batch.purpose, valid_until=batch.valid_until,
                           now=batch.now)
    return f"campaign:{campaign.pk}" if campaign is not None else ""
