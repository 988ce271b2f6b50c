"""A local SMS provider speaking the protocol of campaigns.channels.sms (JSON over HTTP, a bearer
key), with switches for the failures a real one has: a slow answer after it took the message,
scripted error answers, 429 with Retry-After past a rate, numbers it refuses. Stdlib only.

    POST /messages  {"to", "text", "client_ref"}  -> 201 {"id"}; 200 {"id", "duplicate": true} for a
                                                     client_ref it already has (nothing sent twice)
    GET  /messages?client_ref=a&client_ref=b      -> 200 {"messages": [{"id", "client_ref", "to", "status"}]}
    GET  /_fake/messages                          -> every message taken (no key; for the demo)
    POST /_fake/replies {"from", "text"}          -> a member's reply (mobile-originated): the provider
                                                     POSTs it, signed, to its reply URL and answers what
                                                     that URL answered (no key; for the demo)

Replies (MO callbacks) go out as campaigns.replies.services describes: POST {reply_url} with
X-Siyu-Timestamp and X-Siyu-Signature (hex HMAC-SHA256 of "{timestamp}.{body}" under the reply
secret), body {"id", "from", "to", "text", "received_at"}; `Provider.reply` sends one and keeps the
answer, `Provider.resend` repeats one (a provider retrying a callback).

Run it for the demo: `python -m campaigns.fake.sms --port 8031 --key demo-sms-key
--reply-url http://127.0.0.1:8000/sms/replies/ --reply-secret demo-reply-secret`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass
class Message:
    id: str
    to: str
    text: str
    client_ref: str
    at: float
    status: str = "sent"

    def as_dict(self) -> dict:
        return {"id": self.id, "to": self.to, "text": self.text, "client_ref": self.client_ref, "status": self.status}


@dataclass
class Callback:
    """One reply callback the provider made, and what the receiver answered (status 0: no answer)."""

    body: dict
    status: int
    answer: str


@dataclass
class Scripted:
    """An answer the next POSTs get instead of the normal one (before anything is stored)."""

    status: int
    code: str = ""
    retry_after: int | None = None


@dataclass
class Provider:
    """The provider's state. `per_second`: messages taken per second before 429 (None: no limit);
    `refuse`: {number: error code} answered 422; `slow`: seconds to wait before answering a POST
    it has already stored (for `slow_times` POSTs, or every one with None)."""

    key: str
    url: str = ""  # set when started
    per_second: int | None = None
    refuse: dict[str, str] = field(default_factory=dict)
    slow: float = 0.0
    slow_times: int | None = None
    reply_url: str = ""  # where replies are POSTed (the brand's callback)
    reply_secret: str = ""  # what they are signed with
    number: str = "1069000000"  # the brand's number members reply to
    messages: list[Message] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    posts: int = 0  # POST /messages received, whatever the answer
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _script: collections.deque = field(default_factory=collections.deque, repr=False)
    _window: collections.deque = field(default_factory=collections.deque, repr=False)
    _by_ref: dict = field(default_factory=dict, repr=False)

    def fail(self, status: int, *, times: int = 1, code: str = "", retry_after: int | None = None) -> None:
        """The next `times` POSTs answer `status` (with {"error": {"code"}}, and Retry-After if given)."""
        with self.lock:
            self._script.extend(Scripted(status, code, retry_after) for _ in range(times))

    def by_ref(self, ref: str) -> Message | None:
        return self._by_ref.get(ref)

    def sent_to(self, number: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m.to == number]

    def take(self, body: dict) -> tuple[int, dict, dict, float]:
        """(status, answer, headers, seconds to wait before answering) for one POST."""
        with self.lock:
            self.posts += 1
            if self._script:
                scripted = self._script.popleft()
                headers = {"Retry-After": str(scripted.retry_after)} if scripted.retry_after is not None else {}
                return scripted.status, _error(scripted.code or f"http_{scripted.status}"), headers, 0.0
            to, text, ref = body.get("to"), body.get("text"), body.get("client_ref")
            if not all(isinstance(v, str) and v for v in (to, text, ref)):
                return 400, _error("invalid_request", "to, text and client_ref are required strings"), {}, 0.0
            if not E164.match(to):
                return 400, _error("invalid_number", f"{to} is not an E.164 number"), {}, 0.0
            if to in self.refuse:
                return 422, _error(self.refuse[to], f"{to} cannot be sent to"), {}, 0.0
            existing = self.by_ref(ref)
            if existing is not None:
                return 200, {"id": existing.id, "duplicate": True}, {}, 0.0
            now = time.monotonic()
            if self.per_second is not None:
                while self._window and self._window[0] <= now - 1:
                    self._window.popleft()
                if len(self._window) >= self.per_second:
                    return 429, _error("rate_limited", "too many messages"), {"Retry-After": "1"}, 0.0
                self._window.append(now)
            message = Message(f"sms_{len(self.messages) + 1:06d}", to, text, ref, time.time())
            self.messages.append(message)
            self._by_ref[ref] = message
            wait = 0.0
            if self.slow and (self.slow_times is None or self.slow_times > 0):
                wait = self.slow
                if self.slow_times is not None:
                    self.slow_times -= 1
            return 201, {"id": message.id}, {}, wait


    def reply(self, sender: str, text: str, *, message_id: str | None = None, received_at: dt.datetime | None = None,
              secret: str | None = None, timestamp: int | None = None) -> Callback:
        """A member at `sender` answers: the provider POSTs the reply, signed, to `reply_url`.
        `secret` and `timestamp` stand in for the configured ones (a forged or a stale callback)."""
        with self.lock:
            message_id = message_id or f"mo_{len(self.callbacks) + 1:06d}"
        at = received_at or dt.datetime.now(dt.UTC)
        body = {"id": message_id, "from": sender, "to": self.number, "text": text,
                "received_at": at.isoformat().replace("+00:00", "Z")}
        return self._callback(body, secret=secret, timestamp=timestamp)

    def resend(self, callback: Callback) -> Callback:
        """The same callback again (a provider that did not hear the answer retries)."""
        return self._callback(callback.body)

    def _callback(self, body: dict, *, secret: str | None = None, timestamp: int | None = None) -> Callback:
        raw = json.dumps(body, ensure_ascii=False).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        key = self.reply_secret if secret is None else secret
        signature = hmac.new(key.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        if not self.reply_url.startswith(("http://", "https://")):
            raise ValueError(f"reply_url must be an http(s) address, not {self.reply_url!r}")
        request = urllib.request.Request(self.reply_url, data=raw, method="POST", headers={  # noqa: S310
            "Content-Type": "application/json", "X-Siyu-Timestamp": stamp, "X-Siyu-Signature": signature,
            "User-Agent": "sms-fake"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a configured URL
                status, answer = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read().decode()
        except OSError as exc:
            status, answer = 0, str(exc)
        callback = Callback(body, status, answer)
        with self.lock:
            self.callbacks.append(callback)
        return callback


def _error(code: str, message: str = "") -> dict:
    return {"error": {"code": code, "message": message or code}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart (delayed ACK)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass

    def _answer(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {self.server.provider.key}":
            return True
        self._answer(401, _error("unauthorized", "bad or missing bearer key"))
        return False

    def do_GET(self):  # noqa: N802 - the stdlib's name
        parts = urllib.parse.urlsplit(self.path)
        provider = self.server.provider
        if parts.path == "/_fake/messages":
            with provider.lock:
                self._answer(200, {"messages": [m.as_dict() for m in provider.messages]})
            return
        if parts.path != "/messages":
            self._answer(404, _error("not_found"))
            return
        if not self._authorised():
            return
        refs = urllib.parse.parse_qs(parts.query).get("client_ref", [])
        with provider.lock:
            found = [m.as_dict() for ref in refs if (m := provider.by_ref(ref)) is not None]
        self._answer(200, {"messages": found})

    def do_POST(self):  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if urllib.parse.urlsplit(self.path).path == "/_fake/replies":
            self._fake_reply(raw)
            return
        if urllib.parse.urlsplit(self.path).path != "/messages":
            self._answer(404, _error("not_found"))
            return
        if not self._authorised():
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._answer(400, _error("invalid_json"))
            return
        status, answer, headers, wait = self.server.provider.take(body if isinstance(body, dict) else {})
        if wait:
            time.sleep(wait)  # taken, but the answer comes late (the client may have given up)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(status, answer, headers)


    def _fake_reply(self, raw: bytes) -> None:
        provider = self.server.provider
        try:
            body = json.loads(raw)
            sender, text = body["from"], body["text"]
        except (ValueError, KeyError, TypeError):
            self._answer(400, _error("invalid_request", "from and text are required"))
            return
        if not provider.reply_url:
            self._answer(409, _error("no_reply_url", "start the provider with --reply-url"))
            return
        callback = provider.reply(str(sender), str(text))
        self._answer(200, {"id": callback.body["id"], "status": callback.status, "answer": callback.answer})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    provider: Provider


@dataclass
class RunningProvider:
    provider: Provider
    url: str
    _httpd: _Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def start(provider: Provider, *, host: str = "127.0.0.1", port: int = 0) -> RunningProvider:
    httpd = _Server((host, port), _Handler)
    httpd.provider = provider
    provider.url = "http://{}:{}".format(*httpd.server_address[:2])
    thread = threading.Thread(target=httpd.serve_forever, name="sms-fake", daemon=True,
                              kwargs={"poll_interval": 0.1})
    thread.start()
    return RunningProvider(provider, provider.url, httpd, thread)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local SMS provider (campaigns.channels.sms's protocol).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8031)
    parser.add_argument("--key", required=True, help="the bearer key clients must send (SIYU_SMS_KEY)")
    parser.add_argument("--per-second", type=int, default=None, help="answer 429 past this many messages a second")
    parser.add_argument("--reply-url", default="", help="where members' replies are POSTed (/sms/replies/)")
    parser.add_argument("--reply-secret", default="", help="what replies are signed with (SIYU_SMS_REPLY_SECRET)")
    args = parser.parse_args(argv)
    running = start(Provider(key=args.key, per_second=args.per_second, reply_url=args.reply_url,
                             reply_secret=args.reply_secret), host=args.host, port=args.port)
    print(f"SMS provider on {running.url} (SIYU_SMS_URL={running.url})", flush=True)  # noqa: T201
    try:
        running._thread.join()
    except KeyboardInterrupt:
        running.stop()


if __name__ == "__main__":
    main()
