"""Receiving WeCom's callbacks: the URL check and an event's signature, freshness, replay and size
checks, decryption and parsing, then storing it (wecom.services.events) so it can be acknowledged at
once and processed by a worker.

A refusal raises `Refused` with the HTTP status the endpoint answers and a short reason for the log
(never the body). The order matters: the signature is checked before anything is remembered, so an
unsigned request cannot fill the replay cache; a correctly signed message that cannot be decrypted
or parsed is stored as an ignored event with the reason, so WeCom stops retrying it and an operator
sees it.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from wecom.crypto import CallbackCrypto, CryptoError, SignatureError, parse_xml
from wecom.models import CallbackEvent
from wecom.services import events

WINDOW_SECONDS = 300  # a timestamp further than this from our clock is refused
BODY_MAX = 64 * 1024  # WeCom's event envelopes are a few hundred bytes
REPLAY_TTL = 2 * WINDOW_SECONDS + 60  # a (timestamp, nonce, signature) is remembered while it could pass
HEALTH_EVERY = 30  # seconds between writes of ConnectionState.last_callback_at


class Refused(Exception):  # noqa: N818 (an answer to the caller, named for what the endpoint does)
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def crypto() -> CallbackCrypto:
    """The callback crypto of the configured corp (WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)."""
    try:
        return CallbackCrypto(
            token=settings.WECOM_TOKEN, aes_key=settings.WECOM_AES_KEY, corp_id=settings.WECOM_CORP_ID
        )
    except ValueError:
        raise Refused(503, "callbacks not configured") from None


def _check_fresh(timestamp: str, *, now: float | None = None) -> None:
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        raise Refused(403, "bad timestamp") from None
    if abs((now if now is not None else time.time()) - sent) > WINDOW_SECONDS:
        raise Refused(403, "timestamp outside the window")


def _require(**params: str) -> None:
    missing = [name for name, value in params.items() if not value]
    if missing:
        raise Refused(403, f"missing {', '.join(missing)}")


def verify_url(*, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
    """WeCom's URL check: the plaintext of ``echostr`` when the signature holds. No database work."""
    _require(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, echostr=echostr)
    _check_fresh(timestamp)
    try:
        return crypto().verify_url(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, echostr=echostr)
    except SignatureError:
        raise Refused(403, "signature mismatch") from None
    except CryptoError:
        raise Refused(400, "echostr not decryptable") from None


def _remember(timestamp: str, nonce: str, msg_signature: str) -> str:
    """SET NX of the request's (timestamp, nonce, signature); refuses one seen before."""
    key = "wecom:callback:seen:" + hashlib.sha256(f"{timestamp}\n{nonce}\n{msg_signature}".encode()).hexdigest()
    if not cache.add(key, 1, timeout=REPLAY_TTL):
        raise Refused(403, "replayed request")
    return key


def receive(*, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> CallbackEvent:
    """Check, decrypt, parse and store one event callback; returns the stored row (``created`` False
    for WeCom's retry of a message already stored)."""
    if len(body) > BODY_MAX:
        raise Refused(413, "body too large")
    _require(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce)
    _check_fresh(timestamp)
    try:
        envelope = parse_xml(body)
    except CryptoError:
        raise Refused(400, "envelope not accepted (malformed, DOCTYPE or entities)") from None
    encrypted = envelope.get("Encrypt") or ""
    if not encrypted:
        raise Refused(400, "no Encrypt element")
    box = crypto()
    try:
        box.check(msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, encrypted=encrypted)
    except SignatureError:
        raise Refused(403, "signature mismatch") from None
    key = _remember(timestamp, nonce, msg_signature)
    try:
        event = _store(box, encrypted)
    except BaseException:
        cache.delete(key)  # not stored: WeCom's retry of this very request must get through
        raise
    _touch_health()
    return event


def _store(box: CallbackCrypto, encrypted: str) -> CallbackEvent:
    try:
        plaintext = box.decrypt(encrypted)
    except CryptoError as exc:
        digest = hashlib.sha256(encrypted.encode()).hexdigest()
        return events.store_event({}, raw_digest=digest, ignore_reason=f"{events.UNPARSEABLE}: {exc}")
    digest = hashlib.sha256(plaintext.encode("utf-8")).hexdigest()
    try:
        fields = parse_xml(plaintext)
    except CryptoError as exc:
        return events.store_event({}, raw_digest=digest, ignore_reason=f"{events.UNPARSEABLE}: {exc}")
    return events.store_event(fields, raw_digest=digest)


def _touch_health() -> None:
    """ConnectionState.last_callback_at, written at most every HEALTH_EVERY seconds (one SET NX)."""
    if cache.add("wecom:callback:health", 1, timeout=HEALTH_EVERY):
        from wecom.services.connection import record_callback

        record_callback(at=timezone.now())
