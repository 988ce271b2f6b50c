"""The local WeCom server's outgoing callbacks: events as WeCom sends them (XML, encrypted with
CallbackCrypto, POSTed with msg_signature, timestamp and nonce), from a background thread, retried
when the receiver does not answer 200 within the timeout (3 retries in all, as WeCom does)."""

from __future__ import annotations

import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from xml.sax.saxutils import escape

from wecom.crypto import CallbackCrypto, new_nonce, parse_xml

logger = logging.getLogger(__name__)

FIELD_ORDER = ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType")
NUMERIC = {"CreateTime", "MemChangeCnt", "JoinScene", "QuitScene"}


def event_xml(corp_id: str, fields: dict) -> str:
    """One event's plaintext XML, its fields in WeCom's order and text in CDATA."""
    values = {"ToUserName": corp_id, "FromUserName": "sys", "CreateTime": str(int(time.time())), "MsgType": "event"}
    values.update({k: str(v) for k, v in fields.items() if v is not None})
    keys = [k for k in FIELD_ORDER if k in values] + [k for k in values if k not in FIELD_ORDER]
    parts = []
    for key in keys:
        value = values[key]
        if key in NUMERIC:
            parts.append(f"<{key}>{escape(value)}</{key}>")
        else:
            parts.append(f"<{key}><![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]></{key}>")
    return "<xml>" + "".join(parts) + "</xml>"


class CallbackSender:
    """Queues events and delivers them in order on a daemon thread. ``delivered`` and ``failed``
    record the outcome of each event (its plaintext XML and the number of attempts)."""

    def __init__(
        self, *, url: str, crypto: CallbackCrypto, timeout: float = 5.0, retries: int = 3, retry_delay: float = 0.2
    ):
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("the callback URL must be http or https")
        self.url = url
        self.crypto = crypto
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self.queue: queue.Queue = queue.Queue()
        self.delivered: list[dict] = []
        self.failed: list[dict] = []
        self.attempts = 0
        self._idle = threading.Condition()
        self._pending = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wecom-fake-callbacks", daemon=True)
        self._thread.start()

    def send(self, fields: dict) -> None:
        with self._idle:
            self._pending += 1
        self.queue.put(event_xml(self.crypto.corp_id, fields))

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued event was delivered or given up; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> None:
        self._stop.set()
        self.queue.put(None)
        self._thread.join(timeout=2)

    def verify_url(self, echo: str = "siyu-fake-echo") -> tuple[int, str]:
        """WeCom's URL check: GET with an encrypted echostr; returns (status, body)."""
        timestamp, nonce = str(int(time.time())), new_nonce()
        echostr = self.crypto.encrypt(echo)
        query = urllib.parse.urlencode(
            {
                "msg_signature": self.crypto.signature(timestamp, nonce, echostr),
                "timestamp": timestamp,
                "nonce": nonce,
                "echostr": echostr,
            }
        )
        try:
            with self._open(f"{self.url}{'&' if '?' in self.url else '?'}{query}") as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def _open(self, request):
        # Only the configured http(s) callback URL is opened (checked in __init__).
        return urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310

    def _run(self) -> None:
        while not self._stop.is_set():
            plaintext = self.queue.get()
            if plaintext is None:
                return
            try:
                self._deliver(plaintext)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, plaintext: str) -> None:
        for attempt in range(1, self.retries + 2):
            self.attempts += 1
            if self._post(plaintext):
                self.delivered.append({"xml": plaintext, "attempts": attempt})
                return
            if self._stop.wait(self.retry_delay):
                break
        self.failed.append({"xml": plaintext, "attempts": attempt})
        logger.warning("wecom fake callback given up after %d attempts", attempt)

    def _post(self, plaintext: str) -> bool:
        timestamp, nonce = str(int(time.time())), new_nonce()
        body = self.crypto.encrypt_message(plaintext, timestamp=timestamp, nonce=nonce)
        signature = parse_xml(body)["MsgSignature"]
        query = urllib.parse.urlencode({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce})
        request = urllib.request.Request(  # noqa: S310 - the checked http(s) callback URL
            f"{self.url}{'&' if '?' in self.url else '?'}{query}",
            data=body,
            method="POST",
            headers={"Content-Type": "text/xml"},
        )
        try:
            with self._open(request) as response:
                return response.status == 200
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError):
            return False
