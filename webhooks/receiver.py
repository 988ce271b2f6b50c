"""The receiver kit: how a system that receives Siyu's webhooks checks them, and a small receiver that
does it, for tests and the demo.

    from webhooks.receiver import verify
    if not verify(secret, request.headers, request.body):
        return 400                                   # forged, or an old request replayed
    if already_seen(request.headers["Siyu-Event-Id"]):
        return 200                                   # a retry of what we have: answer it, do it once

`verify` checks Siyu-Signature (`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`, one v1= per
secret while a rotation overlaps) with the campaigns webhook's scheme and refuses a timestamp more
than `tolerance` seconds away, so a captured request cannot be replayed later.

The receiver (stdlib only) verifies each POST, keeps the first of each event id per path (a repeat
answers 200 and is counted as one), records the order events reached it per member, and can be
told to fail, to answer slowly, to answer 410 Gone or 429 with a Retry-After. With --record it
appends every request it verified to a JSON-lines file and reads it back when restarted:

    python -m webhooks.receiver --port 8034 --secret whsec_... [--record received.jsonl]

Each subscription may use its own path (http://127.0.0.1:8034/<anything>); GET /_received answers
the counts, POST /_control {"fail": 503, "times": 5, "retry_after": 2, "slow": 0.5} steers it.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from campaigns.fake.webhook import signature_ok

SIGNATURE_HEADER = "Siyu-Signature"
MAX_BODY = 1_000_000


def _header(headers, name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return value or ""


def verify(secret: str, headers, body: bytes, tolerance: int = 300, *, now: float | None = None) -> bool:
    """True when the request's Siyu-Signature was made with `secret` over `body` no more than
    `tolerance` seconds from now. `headers`: any mapping (names in any case)."""
    header = _header(headers, SIGNATURE_HEADER)
    stamp = next((part.strip()[2:] for part in header.split(",") if part.strip().startswith("t=")), "")
    try:
        timestamp = int(stamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return signature_ok(secret, header, body, now=timestamp)  # the scheme's own check, at the request's time


@dataclass
class Received:
    path: str
    event_id: int
    member_id: int | None
    attempt: int
    sha256: str
    duplicate: bool  # the path had answered this event 2xx before
    status: int = 200  # what the receiver answered


@dataclass
class Receiver:
    secrets: tuple[str, ...]
    record_path: str = ""
    url: str = ""  # the base address, set when started
    slow: float = 0.0  # seconds to wait before answering
    requests: list[Received] = field(default_factory=list)  # every verified request, in arrival order
    refused: int = 0  # bad or stale signatures
    bodies: dict = field(default_factory=dict)  # (path, event id) -> the first body
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _script: collections.deque = field(default_factory=collections.deque, repr=False)
    _by_event: dict = field(default_factory=dict, repr=False)
    _seen: set = field(default_factory=set, repr=False)
    _file: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.record_path:
            with contextlib.suppress(FileNotFoundError), open(self.record_path, encoding="utf-8") as lines:
                for line in lines:
                    try:
                        row = Received(**json.loads(line))
                    except (ValueError, TypeError):
                        continue  # a line cut short when the receiver was killed mid-write
                    if 200 <= row.status < 300:
                        self._seen.add((row.path, row.event_id))
                    self.requests.append(row)
            cut_short = False
            with contextlib.suppress(FileNotFoundError, OSError), open(self.record_path, "rb") as raw:
                raw.seek(-1, 2)
                cut_short = raw.read(1) != b"\n"
            self._file = open(self.record_path, "a", encoding="utf-8")  # noqa: SIM115 - open while serving
            if cut_short:
                self._file.write("\n")  # end a line cut short, so the next one stands alone

    def fail(self, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `times` requests with `status` (after checking them)."""
        with self.lock:
            self._script.extend((status, retry_after) for _ in range(times))

    def first(self) -> list[Received]:
        """The first receipt answered 2xx of each (path, event id), in arrival order."""
        with self.lock:
            return [r for r in self.requests if not r.duplicate and 200 <= r.status < 300]

    def order(self, path: str) -> dict[int | None, list[int]]:
        """Event ids per member as they first reached `path`."""
        out: dict[int | None, list[int]] = {}
        for r in self.first():
            if r.path == path:
                out.setdefault(r.member_id, []).append(r.event_id)
        return out

    def fail_event(self, event_id: int, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `times` requests carrying `event_id` with `status` (after checking them)."""
        with self.lock:
            self._by_event.setdefault(int(event_id), collections.deque()).extend(
                (status, retry_after) for _ in range(times))

    def take(self, path: str, headers, raw: bytes) -> tuple[int, dict, dict, float]:
        """Check one request and decide its answer: (status, body, headers, seconds to wait first)."""
        with self.lock:
            if not any(verify(secret, headers, raw) for secret in self.secrets):
                self.refused += 1
                return 400, {"error": "invalid or stale signature"}, {}, 0.0
            try:
                body = json.loads(raw)
                event_id = int(body["id"])
            except (ValueError, KeyError, TypeError):
                return 400, {"error": "not an event"}, {}, 0.0
            status, retry_after = 200, None
            queued = self._by_event.get(event_id)
            if queued:
                status, retry_after = queued.popleft()
            elif self._script:
                status, retry_after = self._script.popleft()
            key = (path, event_id)
            duplicate = key in self._seen
            if 200 <= status < 300:
                self._seen.add(key)
                self.bodies.setdefault(key, raw)
            try:
                attempt = int(_header(headers, "Siyu-Delivery-Attempt") or 0)
            except ValueError:
                attempt = 0
            member = body.get("member") or {}
            row = Received(path, event_id, member.get("id"), attempt, hashlib.sha256(raw).hexdigest(), duplicate,
                           status)
            self.requests.append(row)
            if self._file is not None:
                self._file.write(json.dumps(row.__dict__) + "\n")
                self._file.flush()
            if 200 <= status < 300:
                return status, {"ok": True, "duplicate": duplicate}, {}, self.slow
            extra = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            return status, {"error": f"told to answer {status}"}, extra, self.slow

    def control(self, order: dict) -> None:
        if "slow" in order:
            self.slow = float(order["slow"])
        if order.get("fail"):
            self.fail(int(order["fail"]), times=int(order.get("times", 1)), retry_after=order.get("retry_after"))
        if order.get("fail_event"):
            self.fail_event(int(order["fail_event"]), int(order.get("status", 503)), times=int(order.get("times", 1)),
                            retry_after=order.get("retry_after"))

    def summary(self) -> dict:
        with self.lock:
            return {"requests": len(self.requests), "events": len(self._seen), "refused": self.refused}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

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

    def do_POST(self):  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self._answer(413, {"error": "too large"})
        raw = self.rfile.read(length)
        receiver = self.server.receiver
        if self.path == "/_control":
            receiver.control(json.loads(raw or b"{}"))
            return self._answer(200, receiver.summary())
        status, body, headers, wait = receiver.take(self.path, self.headers, raw)
        if wait:
            time.sleep(wait)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(status, body, headers)

    def do_GET(self):  # noqa: N802 - the stdlib's name
        self._answer(200, self.server.receiver.summary())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    receiver: Receiver

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a sender that hung up: nothing to report
            super().handle_error(request, client_address)


@dataclass
class Running:
    receiver: Receiver
    _httpd: _Server
    _thread: threading.Thread

    def url(self, path: str = "/hooks") -> str:
        return self.receiver.url + path

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def start(receiver: Receiver, *, host: str = "127.0.0.1", port: int = 0) -> Running:
    httpd = _Server((host, port), _Handler)
    httpd.receiver = receiver
    receiver.url = "http://{}:{}".format(*httpd.server_address[:2])
    thread = threading.Thread(target=httpd.serve_forever, name="webhook-receiver", daemon=True,
                              kwargs={"poll_interval": 0.1})
    thread.start()
    return Running(receiver, httpd, thread)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local receiver of Siyu's signed webhook deliveries.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8034)
    parser.add_argument("--secret", action="append", required=True, help="a subscription's secret (repeatable)")
    parser.add_argument("--record", default="", help="a JSON-lines file of every verified request (kept on restart)")
    args = parser.parse_args(argv)
    running = start(Receiver(secrets=tuple(args.secret), record_path=args.record), host=args.host, port=args.port)
    print(f"ready {running.receiver.url}", flush=True)  # noqa: T201 - the command's one line of output
    try:
        running._thread.join()
    except KeyboardInterrupt:
        running.stop()


if __name__ == "__main__":
    main()
