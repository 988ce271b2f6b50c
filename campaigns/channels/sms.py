"""The SMS channel: text messages to a member's phone (E.164) through an HTTP SMS provider, for
members with marketing consent for SMS.

The provider protocol is small and generic, so any gateway fits behind a thin proxy
(campaigns.fake.sms is a local one):

    POST {SIYU_SMS_URL}/messages
        Authorization: Bearer {SIYU_SMS_KEY}
        {"to": "+8613800138000", "text": "...", "client_ref": "siyu-12-345"}
      201 {"id": "..."}              taken; 200 {"id": ...} for a client_ref it already has (the same
                                     message: a repeated send is never a second SMS)
      429 + Retry-After: seconds     too fast: every sender pauses that long
      4xx {"error": {"code", "message"}}   refused for good (bad number, blocked recipient, ...);
                                     401/403 (our key) and 408 are retried instead, and a refused
                                     key pauses every sender for OUTAGE_PAUSE
      5xx                            retried later (three failures in a row: the rest of the batch
                                     waits, and every sender pauses for OUTAGE_PAUSE)
    GET {SIYU_SMS_URL}/messages?client_ref=a&client_ref=b     (at most 50 refs)
      200 {"messages": [{"id", "client_ref", "status"}]}     the ones it has (status "failed" is final)

`client_ref` is the delivery's key (campaign and member), so a send retried after a timeout or a
crash is the same message; an answer that did not come in time is looked up at once by its
client_ref, and `settle` asks the same for deliveries whose worker died.

Length: a text in the GSM 7-bit alphabet is one segment up to 160 characters (153 per segment
beyond); any other character (Chinese) makes it UCS-2: 70 UTF-16 units in one segment, 67 per
segment beyond. At most MAX_SEGMENTS (5: 335 Chinese characters) per message; a campaign's text is
checked when it is created and every rendered text when it is sent.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time

import httpx
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.channels import limits
from campaigns.channels.base import Channel, Outcome, Outgoing, Result
from members import sql as members_sql
from scrm.errors import InvalidInput

logger = logging.getLogger(__name__)

MAX_SEGMENTS = 5
LOOKUP_CHUNK = 50  # client_refs per GET
BATCH_SECONDS = 60.0  # no new send starts in a batch after this long (well inside the engine's lease)
MAX_TRANSPORT_ERRORS = 3  # in a row: the provider is down, the rest of the batch waits
OUTAGE_PAUSE = 30.0  # seconds every sender waits after that (or a refused key) before trying again
ERROR_CHARS = 200

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")  # two septets each


def segments(text: str) -> int:
    """How many SMS segments `text` takes (GSM 7-bit when every character fits, else UCS-2)."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        units, single, part = len(text) + sum(c in _GSM_EXTENDED for c in text), 160, 153
    else:
        units, single, part = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / part)


def _too_long(text: str) -> str | None:
    count = segments(text)
    if count <= MAX_SEGMENTS:
        return None
    return gettext("The text takes %(count)d SMS segments; at most %(limit)d (70 Chinese characters in one "
                   "segment, 67 in each beyond; 160 and 153 for plain Latin text).") % {
        "count": count, "limit": MAX_SEGMENTS}


_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client() -> httpx.Client:
    """One HTTP client per process and configuration (pooled connections)."""
    timeout = float(settings.SIYU_SMS_TIMEOUT)
    signature = (os.getpid(), settings.SIYU_SMS_URL, settings.SIYU_SMS_KEY, timeout)
    client = _clients.get(signature)
    if client is None:
        with _clients_lock:
            client = _clients.get(signature)
            if client is None:
                for stale in _clients.values():
                    stale.close()
                _clients.clear()
                client = _clients[signature] = httpx.Client(
                    base_url=settings.SIYU_SMS_URL.rstrip("/") + "/",
                    timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                    headers={"Authorization": f"Bearer {settings.SIYU_SMS_KEY}", "User-Agent": "siyu-sms"},
                )
    return client


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        code, message = str(error.get("code") or ""), str(error.get("message") or "")
    except (ValueError, AttributeError):
        code, message = "", response.text
    text = f"HTTP {response.status_code}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    return text[:ERROR_CHARS]


class SmsChannel(Channel):
    code = "sms"
    label = _("SMS")
    consent_channel = "sms"
    max_text_bytes = None  # counted in segments instead (check)

    @property
    def batch_size(self) -> int:  # a second's worth; none while paused (limits.batch_size)
        return limits.batch_size(self.code, settings.SIYU_SMS_RATE)

    def unavailable(self) -> str | None:
        for name in ("SIYU_SMS_URL", "SIYU_SMS_KEY"):
            if not getattr(settings, name):
                return gettext("SMS is not configured: set %(setting)s.") % {"setting": name}
        if settings.PRODUCTION and not settings.SIYU_SMS_URL.startswith("https://"):
            return gettext("SMS is not configured: %(setting)s must be an https:// address in production.") % {
                "setting": "SIYU_SMS_URL"}
        return None

    def refusal(self, position: int, attachment: dict) -> str:
        from campaigns import attachments as kinds

        which = kinds.label(position, attachment["type"])
        if attachment["type"] == kinds.LINK:
            return gettext("%(which)s: an SMS is text only. Write the link into the message instead; it is sent "
                           "as a tracked link.") % {"which": which}
        return gettext("%(which)s: an SMS is text only and cannot carry it.") % {"which": which}

    def check(self, text: str) -> None:
        problem = _too_long(text)
        if problem:
            raise InvalidInput(details={"content": [problem]})

    def address_sql(self, member: str) -> str:
        # The member's phone, else a phone identity, when it is an E.164 number.
        phone = (f"coalesce(nullif({member}.phone, ''), (SELECT i.external_id FROM {members_sql.IDENTITY} i "
                 f"WHERE i.member_id = {member}.id AND i.channel = 'phone' ORDER BY i.id LIMIT 1))")
        return f"(SELECT p FROM (SELECT {phone} AS p) AS ph WHERE p ~ '^\\+[1-9][0-9]{{6,14}}$')"

    # --- sending -----------------------------------------------------------------------------

    def send(self, batch: list[Outgoing]) -> list[Result]:
        if not batch:
            return []
        reason = self.unavailable()
        if reason:
            return [Result(o.delivery_id, Outcome.RETRY, error=reason) for o in batch]
        client, bucket = _client(), limits.Bucket(self.code, rate=settings.SIYU_SMS_RATE)
        results: dict[int, Result] = {}
        timed_out: list[Outgoing] = []
        stop, errors_in_row, started = "", 0, time.monotonic()
        for o in batch:
            if not stop and time.monotonic() - started > BATCH_SECONDS:
                stop = "not attempted: the batch ran out of time"
            if stop:
                results[o.delivery_id] = Result(o.delivery_id, Outcome.RETRY, error=stop)
                continue
            too_long = _too_long(o.text)
            if too_long:
                results[o.delivery_id] = Result(o.delivery_id, Outcome.FAILED, error=too_long[:ERROR_CHARS])
                continue
            try:
                bucket.take()
            except limits.RateLimited as exc:
                stop = str(exc)
                results[o.delivery_id] = Result(o.delivery_id, Outcome.RETRY, error=stop)
                continue
            try:
                response = client.post("messages", json={"to": o.address, "text": o.text, "client_ref": o.key})
            except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
                timed_out.append(o)  # the request went out, so the provider may have it: asked below
                results[o.delivery_id] = Result(o.delivery_id, Outcome.RETRY, error=f"timeout: {exc}"[:ERROR_CHARS])
                errors_in_row += 1
            except httpx.TransportError as exc:
                results[o.delivery_id] = Result(o.delivery_id, Outcome.RETRY,
                                                error=f"{type(exc).__name__}: {exc}"[:ERROR_CHARS])
                errors_in_row += 1
            else:
                result, stop = self._answer(o, response, bucket)
                results[o.delivery_id] = result
                errors_in_row = errors_in_row + 1 if response.status_code >= 500 else 0
            if not stop and errors_in_row >= MAX_TRANSPORT_ERRORS:
                stop = "not attempted: the provider failed the sends before"
                bucket.pause(OUTAGE_PAUSE)
        if timed_out:
            results |= self.settle(timed_out)
        return [results[o.delivery_id] for o in batch]

    def _answer(self, o: Outgoing, response: httpx.Response, bucket: limits.Bucket) -> tuple[Result, str]:
        """The result of one POST, and why the rest of the batch should wait ('' if it need not)."""
        status = response.status_code
        if 200 <= status < 300:
            try:
                message_id = str(response.json()["id"])
            except (ValueError, KeyError, TypeError):
                return Result(o.delivery_id, Outcome.RETRY, error=f"HTTP {status} without an id"), ""
            return Result(o.delivery_id, Outcome.SENT, provider_message_id=message_id), ""
        error = _error_text(response)
        if status == 429:
            wait = limits.retry_after(response.headers)
            bucket.pause(wait)
            return (Result(o.delivery_id, Outcome.RETRY, error=error),
                    f"not attempted: the provider asked to wait {wait:g} s")
        if status in (401, 403):
            logger.error("sms: the provider refused the key (HTTP %s)", status)
            bucket.pause(OUTAGE_PAUSE)
            return Result(o.delivery_id, Outcome.RETRY, error=error), "not attempted: the provider refused the key"
        if status == 408 or status >= 500:
            return Result(o.delivery_id, Outcome.RETRY, error=error), ""
        return Result(o.delivery_id, Outcome.FAILED, error=error), ""

    def settle(self, batch: list[Outgoing]) -> dict[int, Result]:
        """Ask the provider which of these it has, by client_ref. One it cannot be asked about is
        left out, so it is sent again: under the same client_ref, which the provider de-duplicates."""
        if not batch or self.unavailable():
            return {}
        client = _client()
        by_ref = {o.key: o for o in batch}
        found: dict[int, Result] = {}
        refs = list(by_ref)
        for start in range(0, len(refs), LOOKUP_CHUNK):
            try:
                response = client.get("messages",
                                      params=[("client_ref", ref) for ref in refs[start:start + LOOKUP_CHUNK]])
                response.raise_for_status()
                messages = response.json().get("messages", [])
            except (httpx.HTTPError, ValueError, AttributeError) as exc:
                logger.warning("sms: looking up %d sends failed: %s", len(refs[start:start + LOOKUP_CHUNK]), exc)
                continue
            for message in messages:
                o = by_ref.get(message.get("client_ref"))
                if o is None:
                    continue
                message_id = str(message.get("id") or "")
                if message.get("status") == "failed":
                    error = str(message.get("error") or "failed at the provider")[:ERROR_CHARS]
                    found[o.delivery_id] = Result(o.delivery_id, Outcome.FAILED, provider_message_id=message_id,
                                                  error=error)
                else:
                    found[o.delivery_id] = Result(o.delivery_id, Outcome.SENT, provider_message_id=message_id)
        return found
