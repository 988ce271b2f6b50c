"""A local webhook receiver for campaigns.channels.webhook: it checks each request's signature
(`Siyu-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`) with its own code, refuses a
bad or stale one (400), keeps one message per Idempotency-Key (a repeat answers 200 with the first
one's id), and can be told to fail, to answer slowly after storing, or to ask for a pause (429).
Stdlib only.

Run it for the demo: `python -m campaigns.fake.webhook --port 8033 --secret <SIYU_WEBHOOK_SECRET>`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300  # seconds a signature's timestamp may be off


def signature_ok(secret: str, header: str, body: bytes, *, now: float | None = None) -> bool:
    """What a receiver does with Siyu-Signature: parse `t` and every `v1`, recompute, compare in
    constant time, and refuse a timestamp more than TOLERANCE seconds away (a replayed request)."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > TOLERANCE:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))


@dataclass
class Received:
    id: str
    key: str
    body: dict
    headers: dict


@dataclass
class Receiver:
    secret: str
    url: str = ""  # set when started
    slow: float = 0.0  # seconds to wait before answering a request it has stored
    slow_times: int | None = None  # for this many requests (None: every one)
    messages: list[Received] = field(default_factory=list)
    requests: int = 0
    refused: list[str] = field(default_factory=list)  # why requests were refused (bad signature ...)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _script: collections.deque = field(default_factory=collections.deque, repr=False)

    def fail(self, status: int, *, times: int = 1, retry_after: int | None = None) -> None:
        with self.lock:
            self._script.extend((status, retry_after) for _ in range(times))

    def by_key(self, key: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if m.key == key]

    def take(self, headers, raw: bytes) -> tuple[int, dict, dict, float]:
        """`headers`: the request's (names in any case)."""
        with self.lock:
            self.requests += 1
            if self._script:
                status, retry_after = self._script.popleft()
                extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return status, {"error": f"scripted {status}"}, extra, 0.0
            if not signature_ok(self.secret, headers.get("Siyu-Signature", ""), raw):
                self.refused.append("signature")
                return 400, {"error": "invalid signature"}, {}, 0.0
            key = headers.get("Idempotency-Key", "")
            if not key:
                self.refused.append("idempotency key")
                return 400, {"error": "Idempotency-Key is required"}, {}, 0.0
            first = next((m for m in self.messages if m.key == key), None)
            if first is not None:
                return 200, {"id": first.id, "duplicate": True}, {}, 0.0
            message = Received(f"wh_{len(self.messages) + 1:06d}", key, json.loads(raw),
                               {name.lower(): value for name, value in headers.items()})
            self.messages.append(message)
            wait = 0.0
            if self.slow and (self.slow_times is None or self.slow_times > 0):
                wait = self.slow
                if self.slow_times is not None:
                    self.slow_times -= 1
            return 200, {"id": message.id}, {}, wait


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart (delayed ACK)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass

    def _answer(self, status: int, body: dict, headers: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 - the stdlib's name
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body, headers, wait = self.server.receiver.take(self.headers, raw)
        if wait:
            time.sleep(wait)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(status, body, headers)

    def do_GET(self):  # noqa: N802 - the stdlib's name
        receiver = self.server.receiver
        with receiver.lock:
            listed = [{"id": m.id, "key": m.key, "body": m.body} for m in receiver.messages]
        self._answer(200, {"messages": listed}, {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@dataclass
class RunningReceiver:
    receiver: Receiver
    _httpd: _Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def start(receiver: Receiver, *, host: str = "127.0.0.1", port: int = 0) -> RunningReceiver:
    httpd = _Server((host, port), _Handler)
    httpd.receiver = receiver
    receiver.url = "http://{}:{}/hooks/siyu".format(*httpd.server_address[:2])
    thread = threading.Thread(target=httpd.serve_forever, name="webhook-fake", daemon=True,
                              kwargs={"poll_interval": 0.1})
    thread.start()
    return RunningReceiver(receiver, httpd, thread)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local receiver of Siyu's signed campaign webhooks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8033)
    parser.add_argument("--secret", required=True, help="SIYU_WEBHOOK_SECRET")
    args = parser.parse_args(argv)
    running = start(Receiver(secret=args.secret), host=args.host, port=args.port)
    print(f"Webhook receiver on {running.receiver.url} (SIYU_WEBHOOK_URL)", flush=True)  # noqa: T201
    try:
        running._thread.join()
    except KeyboardInterrupt:
        running.stop()


if __name__ == "__main__":
    main()
