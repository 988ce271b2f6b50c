"""A local SMTP server on aiosmtpd for the email channel (campaigns.channels.mail): it keeps every
message it accepts and can be told to answer a recipient with a 4xx or 5xx, to answer the next
DATA commands with given replies, to be slow before accepting a recipient (the client gives up and
nothing was taken) or slow after it stored a message (the client gives up though it was taken),
and to require a login. No Django.

Run it for the demo: `python -m campaigns.fake.smtp --port 8025` (then SIYU_SMTP_HOST=127.0.0.1,
SIYU_SMTP_PORT=8025, SIYU_SMTP_SECURITY=none).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import email
import email.policy
import logging
import threading
import time
import warnings
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# A local test server logs in over plain SMTP on purpose; each command logged is noise.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning)
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class Mailbox:
    """The server's state and switches (change them between sends; guarded by `lock`)."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> e.g. "550 5.1.1 No such user"
    slow_rcpt: float = 0.0  # seconds before answering RCPT TO
    slow_rcpt_times: int | None = None
    slow_data: float = 0.0  # seconds between storing a message and answering its DATA
    slow_data_times: int | None = None
    login: tuple[str, str] | None = None  # (user, password) required when set
    mails: list[Mail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _data_replies: collections.deque = field(default_factory=collections.deque, repr=False)

    def reply_to_data(self, reply: str, *, times: int = 1) -> None:
        """The next `times` DATA commands answer `reply` (e.g. "451 4.3.0 Try again later") and keep nothing."""
        with self.lock:
            self._data_replies.extend([reply] * times)

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if address in m.rcpt_tos]

    @staticmethod
    def _take(value: float, times: int | None) -> tuple[float, int | None]:
        if not value or times == 0:
            return 0.0, times
        return value, None if times is None else times - 1

    # --- aiosmtpd's handler hooks -----------------------------------------------------------

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        with self.lock:
            wait, self.slow_rcpt_times = self._take(self.slow_rcpt, self.slow_rcpt_times)
            reply = self.rcpt_replies.get(address)
        if wait:
            await asyncio.sleep(wait)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        with self.lock:
            if self._data_replies:
                return self._data_replies.popleft()
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
            queue_id = f"Q{len(self.mails):06d}"
            wait, self.slow_data_times = self._take(self.slow_data, self.slow_data_times)
        if wait:
            await asyncio.sleep(wait)  # taken, but the answer comes late
        return f"250 2.0.0 Ok: queued as {queue_id}"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if self.login is None:
            return AuthResult(success=True)
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(), auth_data.password.decode()) == self.login
        if ok:
            with self.lock:
                self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)


class _Controller(Controller):
    def _trigger_server(self):
        # Port 0 asks the system for a free port: learn which before connecting to it.
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class RunningSmtp:
    mailbox: Mailbox
    host: str
    port: int
    _controller: Controller

    def stop(self) -> None:
        self._controller.stop()


def start(mailbox: Mailbox, *, host: str = "127.0.0.1", port: int = 0) -> RunningSmtp:
    controller = _Controller(
        mailbox, hostname=host, port=port, server_hostname="smtp.fake.siyu",
        authenticator=mailbox.authenticate, auth_require_tls=False, auth_required=mailbox.login is not None,
    )
    controller.start()
    return RunningSmtp(mailbox, host, controller.port, controller)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local SMTP server that keeps what it is sent.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)
    running = start(Mailbox(), host=args.host, port=args.port)
    print(f"SMTP server on {running.host}:{running.port}", flush=True)  # noqa: T201
    try:
        told = 0
        while True:
            time.sleep(5)
            if (kept := len(running.mailbox.mails)) != told:  # say so only when mail came in
                told = kept
                print(f"{kept} messages kept", flush=True)  # noqa: T201
    except KeyboardInterrupt:
        running.stop()


if __name__ == "__main__":
    main()
