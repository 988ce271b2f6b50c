"""The webhook channel: each message is a signed JSON POST to the brand's own system
(SIYU_WEBHOOK_URL), which delivers it its own way (an app push, a mini-program message). Members
with marketing consent for all channels.

    POST {SIYU_WEBHOOK_URL}
    Content-Type: application/json
    Idempotency-Key: siyu-12-345               the delivery's key: a repeat carries the same one
    Siyu-Signature: t=1767225600,v1=5257a869...
    {"type": "campaign.message", "key": "siyu-12-345",
     "campaign": {"id": 12, "name": "spring"}, "member": {"id": 345},
     "delivery": {"id": 9876, "send_month": "2026-01-01"},
     "address": "+8613800138000", "text": "...", "attachments": [...]}

`attachments` (only when the campaign has any) are the campaign's (campaigns.attachments), in
order, as this member gets them: a link's `url` is the member's tracked link; an image (and a
mini-program card's cover) is an object with its id, name, content_type, size, sha256 and
`content_url`, where the receiver reads the file with its API key
(GET /api/v1/campaign-images/{id}/content/).

The signature works as Stripe's: `v1` is the hex HMAC-SHA256, keyed with SIYU_WEBHOOK_SECRET, of
the timestamp `t` (Unix seconds), a dot and the exact body bytes. A receiver recomputes it, compares
in constant time and refuses a `t` more than five minutes away (campaigns.fake.webhook.signature_ok
does just that). During a change of secret, several `v1=` may come; any one matching is enough.

Answers: 2xx sent (its JSON "id", if any, is kept as the provider's id); 429 (Retry-After pauses
every sender), 408, 5xx, timeouts and connection errors are retried, under the same Idempotency-Key,
so the receiver must keep the keys it has seen (a day at least); any other answer fails the
delivery with its status and the start of its body. The address is the member's phone, else their
first identity (`channel:id`), else `member:<id>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time

import httpx
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.channels import limits
from campaigns.channels.base import Channel, Outcome, Outgoing, Result
from campaigns.models import Campaign
from members import sql as members_sql

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Siyu-Signature"
MIN_SECRET = 16
BATCH_SECONDS = 60.0  # no new request starts in a batch after this long (well inside the engine's lease)
MAX_TRANSPORT_ERRORS = 3  # in a row: the receiver is down, the rest of the batch waits
OUTAGE_PAUSE = 30.0  # seconds every sender waits after that before trying again
ERROR_CHARS = 200


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The Siyu-Signature header's value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client() -> httpx.Client:
    timeout = float(settings.SIYU_WEBHOOK_TIMEOUT)
    signature = (os.getpid(), timeout)
    client = _clients.get(signature)
    if client is None:
        with _clients_lock:
            client = _clients.get(signature)
            if client is None:
                for stale in _clients.values():
                    stale.close()
                _clients.clear()
                client = _clients[signature] = httpx.Client(
                    timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                    headers={"User-Agent": "siyu-webhook"}, follow_redirects=False,
                )
    return client


class WebhookChannel(Channel):
    code = "webhook"
    label = _("Webhook (the brand's own system)")
    consent_channel = "all"
    max_text_bytes = 8000
    attachment_kinds = frozenset({"image", "link", "miniprogram"})  # in the payload's "attachments"
    max_attachments = 9

    @property
    def batch_size(self) -> int:  # a second's worth; none while paused (limits.batch_size)
        return limits.batch_size(self.code, settings.SIYU_WEBHOOK_RATE)

    def unavailable(self) -> str | None:
        for name in ("SIYU_WEBHOOK_URL", "SIYU_WEBHOOK_SECRET"):
            if not getattr(settings, name):
                return gettext("Webhooks are not configured: set %(setting)s.") % {"setting": name}
        if len(settings.SIYU_WEBHOOK_SECRET) < MIN_SECRET:
            return gettext("Webhooks are not configured: %(setting)s must be at least %(n)d characters.") % {
                "setting": "SIYU_WEBHOOK_SECRET", "n": MIN_SECRET}
        if settings.PRODUCTION and not settings.SIYU_WEBHOOK_URL.startswith("https://"):
            return gettext("Webhooks are not configured: %(setting)s must be an https:// address in production.") % {
                "setting": "SIYU_WEBHOOK_URL"}
        return None

    def address_sql(self, member: str) -> str:
        return (
            f"coalesce(nullif({member}.phone, ''), (SELECT i.channel || ':' || i.external_id "
            f"FROM {members_sql.IDENTITY} i WHERE i.member_id = {member}.id ORDER BY i.id LIMIT 1), "
            f"'member:' || {member}.id)"
        )

    def _body(self, o: Outgoing, campaign_name: str) -> bytes:
        body = {
            "type": "campaign.message", "key": o.key,
            "campaign": {"id": o.campaign_id, "name": campaign_name}, "member": {"id": o.member_id},
            "delivery": {"id": o.delivery_id, "send_month": str(o.send_month)},
            "address": o.address, "text": o.text,
        }
        if o.attachments:  # a text-only message keeps the payload it always had
            body["attachments"] = list(o.attachments)
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    def send(self, batch: list[Outgoing]) -> list[Result]:
        if not batch:
            return []
        reason = self.unavailable()
        if reason:
            return [Result(o.delivery_id, Outcome.RETRY, error=reason) for o in batch]
        names = dict(Campaign.objects.filter(pk__in={o.campaign_id for o in batch}).values_list("pk", "name"))
        client, bucket = _client(), limits.Bucket(self.code, rate=settings.SIYU_WEBHOOK_RATE)
        receipts = limits.Receipts(self.code)
        url, secret = settings.SIYU_WEBHOOK_URL, settings.SIYU_WEBHOOK_SECRET
        results: list[Result] = []
        stop, errors_in_row, started = "", 0, time.monotonic()
        for o in batch:
            if not stop and time.monotonic() - started > BATCH_SECONDS:
                stop = "not attempted: the batch ran out of time"
            if not stop:
                try:
                    bucket.take()
                except limits.RateLimited as exc:
                    stop = str(exc)
            if stop:
                results.append(Result(o.delivery_id, Outcome.RETRY, error=stop))
                continue
            body = self._body(o, names.get(o.campaign_id, ""))
            headers = {"Content-Type": "application/json", "Idempotency-Key": o.key,
                       SIGNATURE_HEADER: sign(secret, body, int(time.time()))}
            try:
                response = client.post(url, content=body, headers=headers)
            except httpx.TransportError as exc:  # timeouts too: the receiver de-duplicates the retry
                results.append(Result(o.delivery_id, Outcome.RETRY, error=f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]))
                errors_in_row += 1
                if errors_in_row >= MAX_TRANSPORT_ERRORS:
                    stop = "not attempted: the receiver failed the requests before"
                    bucket.pause(OUTAGE_PAUSE)
                continue
            errors_in_row = errors_in_row + 1 if response.status_code >= 500 else 0
            result, stop = self._answer(o, response, bucket)
            if result.outcome is Outcome.SENT:
                receipts.record(o.key, result.provider_message_id)
            results.append(result)
            if not stop and errors_in_row >= MAX_TRANSPORT_ERRORS:
                stop = "not attempted: the receiver failed the requests before"
                bucket.pause(OUTAGE_PAUSE)
        return results

    def _answer(self, o: Outgoing, response: httpx.Response, bucket: limits.Bucket) -> tuple[Result, str]:
        status = response.status_code
        if 200 <= status < 300:
            try:
                answer = response.json()
                message_id = str(answer.get("id") or "") if isinstance(answer, dict) else ""
            except ValueError:
                message_id = ""
            return Result(o.delivery_id, Outcome.SENT, provider_message_id=message_id[:128] or o.key), ""
        error = f"HTTP {status}: {response.text.strip()}"[:ERROR_CHARS]
        if status == 429:
            wait = limits.retry_after(response.headers)
            bucket.pause(wait)
            return (Result(o.delivery_id, Outcome.RETRY, error=error),
                    f"not attempted: the receiver asked to wait {wait:g} s")
        if status == 408 or status >= 500:
            return Result(o.delivery_id, Outcome.RETRY, error=error), ""
        return Result(o.delivery_id, Outcome.FAILED, error=error), ""

    def settle(self, batch: list[Outgoing]) -> dict[int, Result]:
        """The receiver cannot be asked: the receipts written as its answers came say which it took.
        Others are sent again under the same Idempotency-Key."""
        by_key = {o.key: o for o in batch}
        return {
            by_key[key].delivery_id: Result(by_key[key].delivery_id, Outcome.SENT, provider_message_id=message_id)
            for key, message_id in limits.Receipts(self.code).find(list(by_key)).items()
        }
