"""SMS replies: the provider's mobile-originated (MO) callback, verified, matched and stored once.

The callback (campaigns.fake.sms sends it the same way):

    POST /sms/replies/
        X-Siyu-Timestamp: unix seconds
        X-Siyu-Signature: hex HMAC-SHA256(SIYU_SMS_REPLY_SECRET, "{timestamp}.{raw body}")
        {"id": "mo_123", "from": "+8613800138000", "text": "TD", "received_at": "2026-12-03T09:00:00Z"}
      200 {"status": "stored" | "duplicate" | "unmatched"}     taken (a repeated id changes nothing)
      400 {"error": {"field", "message"}}                        a field missing or malformed
      401                                                        bad signature, or a timestamp more than
                                                                 SIGNATURE_TOLERANCE seconds off
      503                                                        SIYU_SMS_REPLY_SECRET not set

Matching: the live members whose SMS address is the number (their phone, else a phone identity: the
address the SMS channel sends to); the reply belongs to the one last sent an SMS from it (that
delivery's campaign is the one answered, within MATCH_DAYS before the reply), else to the only one.
An unsubscribe keyword (UNSUBSCRIBE, the whole text) withdraws SMS marketing consent of every live
member with that number, through the members' consent service, with the message id as evidence.
The row, the consent change and the duplicate check happen in one transaction keyed on the
provider's message id (INSERT ... ON CONFLICT DO NOTHING), so two deliveries of one callback store
one reply and opt out once."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from campaigns import partitions
from campaigns.models import Campaign, Delivery
from campaigns.replies.models import MESSAGE_ID_MAX, TEXT_MAX, Reply
from campaigns.replies.sql import REPLY
from members import sql as members_sql
from members.models import ConsentChannel, ConsentPurpose, Member
from members.services import consent
from scrm.actors import SystemActor
from scrm.errors import InvalidInput

logger = logging.getLogger(__name__)

BODY_MAX = 16_384
SIGNATURE_TOLERANCE = 300  # seconds between the provider's timestamp and ours
MATCH_DAYS = 30  # a reply answers the last SMS sent to the number within this many days
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# The whole reply, case and punctuation aside: what carriers and providers treat as "stop sending".
UNSUBSCRIBE = frozenset({"td", "t", "退订", "stop", "unsubscribe"})
CONSENT_SOURCE = "sms_reply"
ACTOR = SystemActor("sms:reply")

DELIVERY = Delivery._meta.db_table
CAMPAIGN = Campaign._meta.db_table


class Refused(Exception):
    """The callback is not taken: `status` is the HTTP answer, `field` the body field at fault."""

    def __init__(self, status: int, reason: str, field: str = "") -> None:
        super().__init__(reason)
        self.status, self.reason, self.field = status, reason, field


@dataclass(frozen=True)
class Received:
    status: str  # stored, duplicate, unmatched
    reply_id: int | None = None
    member_id: int | None = None
    campaign_id: int | None = None
    opted_out: int = 0  # members whose SMS consent this reply withdrew


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature of one callback (what the provider puts in X-Siyu-Signature)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(*, body: bytes, timestamp: str, signature: str, now: dt.datetime | None = None) -> None:
    secret = settings.SIYU_SMS_REPLY_SECRET
    if not secret:
        raise Refused(503, "SIYU_SMS_REPLY_SECRET is not set")
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        raise Refused(401, "missing or malformed X-Siyu-Timestamp") from None
    if abs((now or timezone.now()).timestamp() - sent) > SIGNATURE_TOLERANCE:
        raise Refused(401, "stale timestamp")
    if not hmac.compare_digest(sign(secret, timestamp, body), (signature or "").strip().lower()):
        raise Refused(401, "bad signature")


def is_unsubscribe(text: str) -> bool:
    """The reply is an unsubscribe keyword alone ("TD", "退订", "Stop.", " unsubscribe!")."""
    kept = "".join(c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c)[0] not in "PZSC")
    return kept.casefold() in UNSUBSCRIBE


def _parse(body: bytes) -> tuple[str, str, str, dt.datetime]:
    try:
        data = json.loads(body)
    except ValueError:
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body is not a JSON object")
    message_id, phone, text = data.get("id"), data.get("from"), data.get("text")
    if not isinstance(message_id, str) or not message_id.strip() or len(message_id) > MESSAGE_ID_MAX:
        raise Refused(400, f"a message id of 1 to {MESSAGE_ID_MAX} characters", "id")
    if not isinstance(phone, str) or not E164.match(phone):
        raise Refused(400, "the sender's number in E.164 (+8613800138000)", "from")
    if not isinstance(text, str):
        raise Refused(400, "the reply's text", "text")
    received = data.get("received_at")
    at = parse_datetime(received) if isinstance(received, str) else None
    if received is not None and (at is None or at.tzinfo is None):
        raise Refused(400, "an ISO 8601 time with its offset", "received_at")
    return message_id.strip(), phone, text, at or timezone.now()


def receive(*, body: bytes, timestamp: str, signature: str, now: dt.datetime | None = None) -> Received:
    """One callback from the provider: verified, parsed, recorded (see the module docstring)."""
    verify(body=body, timestamp=timestamp, signature=signature, now=now)
    message_id, phone, text, at = _parse(body)
    return record_reply(message_id=message_id, phone=phone, text=text, received_at=at)


def _members_of(phone: str) -> list[int]:
    """Live members whose SMS address is `phone` (the SMS channel's address rule)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id FROM {members_sql.MEMBER} m WHERE {members_sql.live('m')} AND (m.phone = %(p)s OR "
            f"(m.phone = '' AND EXISTS (SELECT 1 FROM {members_sql.IDENTITY} i WHERE i.member_id = m.id "
            "AND i.channel = 'phone' AND i.external_id = %(p)s))) ORDER BY m.id",
            {"p": phone})
        return [row[0] for row in cursor.fetchall()]


def _last_delivery(member_ids: list[int], at: dt.datetime) -> tuple[int, int, int] | None:
    """(member, campaign, delivery) of the last SMS sent to these members within MATCH_DAYS before `at`."""
    since = at - dt.timedelta(days=MATCH_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.member_id, d.campaign_id, d.id FROM {DELIVERY} d JOIN {CAMPAIGN} c ON c.id = d.campaign_id "
            "WHERE d.member_id = ANY(%s) AND d.send_month >= %s AND d.state = 'sent' AND c.channel = 'sms' "
            "AND d.sent_at >= %s AND d.sent_at <= %s ORDER BY d.sent_at DESC, d.id DESC LIMIT 1",
            [member_ids, partitions.month_of(since), since, at])
        row = cursor.fetchone()
    return tuple(row) if row else None


@transaction.atomic
def record_reply(*, message_id: str, phone: str, text: str, received_at: dt.datetime) -> Received:
    """Store one reply under the provider's message id, once; an unsubscribe opts the number out of SMS."""
    if not E164.match(phone or ""):
        raise InvalidInput(details={"from": [_("A phone number in E.164, e.g. +8613800138000.")]})
    members = _members_of(phone)
    match = _last_delivery(members, received_at) if members else None
    if match is not None:
        member_id, campaign_id, delivery_id = match
    else:
        member_id, campaign_id, delivery_id = (members[0] if len(members) == 1 else None), None, None
    matched = member_id is not None
    stop = bool(members) and is_unsubscribe(text)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {REPLY} (provider_message_id, member_id, campaign_id, delivery_id, phone, text, opted_out, "
            "received_at, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now()) "
            "ON CONFLICT (provider_message_id) DO NOTHING RETURNING id",
            [message_id, member_id, campaign_id, delivery_id, phone if matched else "",
             text[:TEXT_MAX] if matched else "", stop, received_at])
        row = cursor.fetchone()
    if row is None:
        return Received("duplicate")
    if not matched and not stop:
        logger.info("sms reply %s from a number no single member has", message_id)
        return Received("unmatched", reply_id=row[0])
    opted_out = 0
    if stop:
        evidence = f"SMS reply {message_id}: {text.strip()}"[:consent.EVIDENCE_MAX]
        for member in Member.objects.filter(pk__in=members).order_by("pk"):
            consent.set_consent(member=member, purpose=ConsentPurpose.MARKETING, channel=ConsentChannel.SMS,
                                granted=False, source=CONSENT_SOURCE, evidence=evidence, actor=ACTOR,
                                at=received_at)
            opted_out += 1
    return Received("stored" if matched else "unmatched", reply_id=row[0], member_id=member_id,
                    campaign_id=campaign_id, opted_out=opted_out)


def merge_replies(survivor_id: int, duplicate_id: int) -> int:
    """A merge moves the duplicate's replies to the survivor."""
    return Reply.objects.filter(member_id=duplicate_id).update(member_id=survivor_id)
