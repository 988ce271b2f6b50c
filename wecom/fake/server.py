"""The local WeCom server: WeCom's server API under /cgi-bin/ (the same JSON shapes, HTTP 200 with
errcode/errmsg, the same error codes and frequency limits) over a simulated ``FakeCorp``, plus
control endpoints under /_fake/ for tests and the demo. Stdlib only, no Django."""

from __future__ import annotations

import collections
import email.parser
import email.policy
import hashlib
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wecom.crypto import CallbackCrypto

from .callbacks import CallbackSender
from .corp import FakeCorp, WeComError

DEFAULT_TOKEN = "siyuFakeToken"
DEFAULT_AES_KEY = "c2l5dWZha2V3ZWNvbWVuY29kaW5nYWVza2V5MDEyMzQ"


@dataclass
class Limits:
    """per_minute / per_hour: calls per API per corp (WeCom's 10,000 a minute and 150,000 an hour),
    then 45009 until that minute or hour ends; concurrency: requests in flight at once before 45033;
    latency: seconds each API call takes (to make concurrency visible)."""

    per_minute: int | None = 10_000
    per_hour: int | None = 150_000
    concurrency: int | None = 500
    latency: float = 0.0
    counts: dict = field(default_factory=dict, repr=False)  # (api, minute) -> calls
    hour_counts: dict = field(default_factory=dict, repr=False)  # (api, hour) -> calls

    def as_dict(self) -> dict:
        return {
            "per_minute": self.per_minute,
            "per_hour": self.per_hour,
            "concurrency": self.concurrency,
            "latency": self.latency,
        }


def _limits(value) -> Limits:
    if value is None:
        return Limits(per_minute=None, per_hour=None, concurrency=None)
    if isinstance(value, Limits):
        return value
    return Limits(**dict(value))


# --- the API -------------------------------------------------------------------------------------
def _get_follow_user_list(corp, q, b, srv):
    return {"follow_user": corp.follow_user_list()}


def _list(corp, q, b, srv):
    return {"external_userid": corp.list_contacts(q.get("userid"))}


def _get(corp, q, b, srv):
    return corp.get_contact(q.get("external_userid"), cursor=q.get("cursor"))


ROUTES_GET = {
    "ticket/get": lambda c, q, b, s: c.agent_ticket(q.get("type")),
    "externalcontact/get_follow_user_list": _get_follow_user_list,
    "externalcontact/list": _list,
    "externalcontact/get": _get,
    "externalcontact/get_moment_task_result": lambda c, q, b, s: c.moments.task_result(q.get("jobid")),
}

def _message_send(corp, q, b, srv):
    """message/send (path/90236): an app text to staff by userid ("a|b", at most 1,000); unknown ones
    come back in invaliduser (lower-cased), 81013 when none is valid; kept in srv.app_messages."""
    if not isinstance(b.get("agentid"), int) or isinstance(b.get("agentid"), bool):
        raise WeComError(40056, "invalid agentid")
    if b.get("msgtype") != "text":
        raise WeComError(40008, "invalid message type")
    text = (b.get("text") or {}).get("content") if isinstance(b.get("text"), dict) else None
    if not isinstance(text, str) or not text:
        raise WeComError(41010, "missing text content")
    if len(text.encode()) > 2048:
        raise WeComError(45002, "content size out of limit")
    wanted = [u for u in str(b.get("touser") or "").split("|") if u]
    if not wanted or len(wanted) > 1000:
        raise WeComError(40031, "invalid userid list")
    valid = [u for u in wanted if u in corp.staff_index and u not in corp.resigned]
    invalid = [u.lower() for u in wanted if u not in valid]
    if not valid:
        raise WeComError(81013, "user & party & tag all invalid", invaliduser="|".join(invalid))
    msgid = corp._id("app")
    with srv.flight_lock:
        srv.app_messages.append({"msgid": msgid, "agentid": b["agentid"], "touser": valid, "content": text})
    return {"invaliduser": "|".join(invalid), "msgid": msgid}


ROUTES_POST = {
    "message/send": _message_send,
    "externalcontact/batch/get_by_user": lambda c, q, b, s: c.batch_get_by_user(
        userid_list=b.get("userid_list"), cursor=b.get("cursor"), limit=b.get("limit", 50)
    ),
    "externalcontact/get_corp_tag_list": lambda c, q, b, s: {
        "tag_group": c.corp_tag_list(tag_id=b.get("tag_id"), group_id=b.get("group_id"))
    },
    "externalcontact/add_corp_tag": lambda c, q, b, s: {
        "tag_group": c.add_corp_tag(
            group_id=b.get("group_id"), group_name=b.get("group_name"), order=b.get("order", 0), tag=b.get("tag")
        )
    },
    "externalcontact/edit_corp_tag": lambda c, q, b, s: c.edit_corp_tag(
        id=b.get("id"), name=b.get("name"), order=b.get("order")
    ),
    "externalcontact/del_corp_tag": lambda c, q, b, s: c.del_corp_tag(
        tag_id=b.get("tag_id"), group_id=b.get("group_id")
    ),
    "externalcontact/mark_tag": lambda c, q, b, s: c.mark_tag(
        userid=b.get("userid"),
        external_userid=b.get("external_userid"),
        add_tag=b.get("add_tag"),
        remove_tag=b.get("remove_tag"),
    ),
    "externalcontact/groupchat/list": lambda c, q, b, s: c.group_chat_list(
        status_filter=b.get("status_filter", 0),
        owner_filter=b.get("owner_filter"),
        cursor=b.get("cursor"),
        limit=b.get("limit", 0),
    ),
    "externalcontact/groupchat/get": lambda c, q, b, s: c.group_chat(b.get("chat_id"), need_name=b.get("need_name", 0)),
    "externalcontact/groupchat/onjob_transfer": lambda c, q, b, s: c.transfer_chats(
        chat_id_list=b.get("chat_id_list"), new_owner=b.get("new_owner")
    ),
    "externalcontact/groupchat/transfer": lambda c, q, b, s: c.transfer_chats(
        chat_id_list=b.get("chat_id_list"), new_owner=b.get("new_owner")
    ),
    "externalcontact/add_contact_way": lambda c, q, b, s: c.add_contact_way(b, s.base_url),
    "externalcontact/get_contact_way": lambda c, q, b, s: {"contact_way": dict(c.contact_way(b.get("config_id")))},
    "externalcontact/list_contact_way": lambda c, q, b, s: c.list_contact_ways(
        start_time=b.get("start_time"), end_time=b.get("end_time"), cursor=b.get("cursor"), limit=b.get("limit", 100)
    ),
    "externalcontact/update_contact_way": lambda c, q, b, s: c.update_contact_way(b),
    "externalcontact/del_contact_way": lambda c, q, b, s: c.del_contact_way(b.get("config_id")),
    "externalcontact/send_welcome_msg": lambda c, q, b, s: c.send_welcome_msg(**b),
    "externalcontact/transfer_customer": lambda c, q, b, s: c.transfer_customers(**_transfer_args(b)),
    "externalcontact/transfer_result": lambda c, q, b, s: c.transfer_result(**_result_args(b)),
    "externalcontact/resigned/transfer_customer": lambda c, q, b, s: c.transfer_customers(
        **_transfer_args(b), resigned=True
    ),
    "externalcontact/resigned/transfer_result": lambda c, q, b, s: c.transfer_result(**_result_args(b), resigned=True),
    "externalcontact/add_msg_template": lambda c, q, b, s: c.add_msg_template(b),
    "media/upload": lambda c, q, b, s: c.upload_media(q.get("type"), **b),
    "media/upload_attachment": lambda c, q, b, s: c.upload_attachment(q.get("media_type"), q.get("attachment_type"),
                                                                      **b),
    "externalcontact/get_groupmsg_list_v2": lambda c, q, b, s: c.groupmsg_list(b),
    "externalcontact/get_groupmsg_task": lambda c, q, b, s: c.groupmsg_task(
        msgid=b.get("msgid"), limit=b.get("limit", 500), cursor=b.get("cursor")
    ),
    "externalcontact/get_groupmsg_send_result": lambda c, q, b, s: c.groupmsg_send_result(
        msgid=b.get("msgid"), userid=b.get("userid"), limit=b.get("limit", 500), cursor=b.get("cursor")
    ),
    "externalcontact/remind_groupmsg_send": lambda c, q, b, s: c.remind_groupmsg(b.get("msgid")),
    "externalcontact/cancel_groupmsg_send": lambda c, q, b, s: c.cancel_groupmsg(b.get("msgid")),
    "externalcontact/add_moment_task": lambda c, q, b, s: c.moments.add_task(b),
    "externalcontact/get_moment_task": lambda c, q, b, s: c.moments.task(
        moment_id=b.get("moment_id"), cursor=b.get("cursor"), limit=b.get("limit", 500)
    ),
    "externalcontact/cancel_moment_task": lambda c, q, b, s: c.moments.cancel(b.get("moment_id")),
    "externalcontact/get_moment_list": lambda c, q, b, s: c.moments.list(b),
}


MULTIPART = frozenset({"media/upload", "media/upload_attachment"})  # APIs whose body is multipart/form-data, not JSON


def _media_part(raw: bytes, content_type: str) -> dict:
    """The "media" file of a multipart/form-data body: filename, content_type and data (None when
    the body has no such part, which media/upload answers with 44001)."""
    found = {"filename": "", "content_type": "", "data": None}
    if not content_type.lower().startswith("multipart/form-data"):
        return found
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + raw
    )
    if not message.is_multipart():
        return found
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "media":
            found.update(filename=part.get_filename() or "", content_type=part.get_content_type(),
                         data=part.get_payload(decode=True) or b"")
            break
    return found


def _transfer_args(b: dict) -> dict:
    keys = ("handover_userid", "takeover_userid", "external_userid", "transfer_success_msg")
    return {k: b.get(k) for k in keys}


def _result_args(b: dict) -> dict:
    return {
        "handover_userid": b.get("handover_userid"),
        "takeover_userid": b.get("takeover_userid"),
        "cursor": b.get("cursor"),
    }


# --- the control endpoints ------------------------------------------------------------------------
def _control(srv: _Server, name: str, body: dict) -> dict:
    corp = srv.corp
    if name == "state":
        return corp.state() | {
            "limits": srv.limits.as_dict() if srv.limits_on else None,
            "callbacks": srv.callback_state(),
            "calls": dict(srv.calls),
        }
    if name == "expire_tokens":
        return {"expired": corp.expire_tokens()}
    if name == "limits":
        if body.get("off"):
            srv.limits, srv.limits_on = _limits(None), False
        else:
            current = srv.limits.as_dict()
            current.update({k: body[k] for k in ("per_minute", "per_hour", "concurrency", "latency") if k in body})
            srv.limits, srv.limits_on = Limits(**current), True
        return srv.limits.as_dict()
    if name == "add_contact":
        return corp.add_contact(**_pick(body, "userid", "state", "name", "external_userid", "welcome", "config_id"))
    if name == "delete":
        return corp.delete(**_pick(body, "external_userid", "userid", "by"))
    if name == "edit":
        return corp.edit(
            **_pick(body, "external_userid", "userid", "remark", "description", "remark_mobiles", "tags", "name")
        )
    if name == "advance":
        return corp.advance(**_pick(body, "changes", "callbacks", "seed", "group_changes"))
    if name == "chat_event":
        keys = ("change_type", "chat_id", "owner", "update_detail", "external_userid", "name")
        return corp.chat_event(**_pick(body, *keys))
    if name == "tag_event":
        return corp.tag_event(**_pick(body, "change_type", "tag_type", "id", "name"))
    if name == "travel":
        corp.travel(float(body.get("seconds", 0)))
        corp.settle()
        return {"now": int(corp.now())}
    if name == "verify_url":
        if srv.sender is None:
            raise WeComError(40058, "no callback URL configured")
        status, text = srv.sender.verify_url(str(body.get("echo") or "siyu-fake-echo"))
        return {"status": status, "body": text}
    if name == "welcomes":
        return {"welcomes": list(corp.welcomes_sent)}
    if name == "app_messages":
        return {"app_messages": list(srv.app_messages)}
    raise WeComError(404)


def _pick(body: dict, *keys: str) -> dict:
    return {k: body[k] for k in keys if k in body}


def qr_svg(config_id: str) -> bytes:
    """A QR-looking SVG: a grid drawn from the config id's hash (not a scannable code)."""
    bits = "".join(f"{b:08b}" for b in hashlib.sha256(config_id.encode()).digest() * 2)
    cells = []
    for n, bit in enumerate(bits[:441]):
        if bit == "1":
            cells.append(f'<rect x="{n % 21}" y="{n // 21}" width="1" height="1"/>')
    for x, y in ((0, 0), (14, 0), (0, 14)):
        cells.append(
            f'<rect x="{x}" y="{y}" width="7" height="7" fill="#000"/>'
            f'<rect x="{x + 1}" y="{y + 1}" width="5" height="5" fill="#fff"/>'
            f'<rect x="{x + 2}" y="{y + 2}" width="3" height="3" fill="#000"/>'
        )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="-1 -1 23 23" width="230" height="230">'
        '<rect x="-1" y="-1" width="23" height="23" fill="#fff"/>' + "".join(cells) + "</svg>"
    ).encode()


# --- HTTP ---------------------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    corp: FakeCorp
    limits: Limits
    limits_on: bool
    sender: CallbackSender | None
    base_url: str
    events: collections.deque

    def setup_state(self, corp: FakeCorp, limits, sender: CallbackSender | None) -> None:
        self.corp = corp
        self.limits = _limits(limits)
        self.limits_on = limits is not None
        self.sender = sender
        self.events = collections.deque(maxlen=100_000)  # the latest events, for tests and the state
        self.in_flight = 0
        self.calls: dict[str, int] = {}  # API -> authenticated calls since the start
        self.flight_lock = threading.Lock()
        self.answer_delays: dict[str, float] = {}  # API -> seconds its answer waits after the work is done
        self.app_messages: list[dict] = []  # message/send texts, oldest first

    def callback_state(self) -> dict:
        if self.sender is None:
            return {"url": None, "events": len(self.events)}
        return {
            "url": self.sender.url,
            "events": len(self.events),
            "delivered": len(self.sender.delivered),
            "failed": len(self.sender.failed),
            "attempts": self.sender.attempts,
        }

    def admit(self, api: str) -> None:
        """45009 past the API's budget for the minute (until it ends) or the hour (likewise)."""
        moment = self.corp.now()
        over = False
        with self.flight_lock:
            self.calls[api] = self.calls.get(api, 0) + 1
            limits = self.limits
            for counts, span, limit in (
                (limits.counts, 60, limits.per_minute),
                (limits.hour_counts, 3600, limits.per_hour),
            ):
                if limit is None:
                    continue
                window = int(moment // span)
                if len(counts) > 4096:
                    for key in [k for k in counts if k[1] < window]:
                        del counts[key]
                counts[(api, window)] = counts.get((api, window), 0) + 1
                over = over or counts[(api, window)] > limit
        if over:
            raise WeComError(45009)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; no 40 ms stalls

    def log_message(self, *args):  # quiet: the tests and the demo have their own logs
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()}
        raw = self._read_body()
        path = parts.path
        if path.startswith("/_fake/"):
            self._control(method, path[len("/_fake/") :].strip("/"), raw)
            return
        if not path.startswith("/cgi-bin/"):
            self._json({"errcode": 404, "errmsg": "no such api"}, status=404)
            return
        api = path[len("/cgi-bin/") :].strip("/")
        try:
            self._json(self._api(method, api, query, raw))
        except WeComError as exc:
            self._json(exc.answer())

    def _api(self, method: str, api: str, query: dict, raw: bytes) -> dict:
        srv, corp = self.server, self.server.corp
        if api == "gettoken":
            return {"errcode": 0, "errmsg": "ok"} | corp.issue_token(query.get("corpid"), query.get("corpsecret"))
        route = (ROUTES_GET if method == "GET" else ROUTES_POST).get(api)
        if route is None:
            if api in ROUTES_GET or api in ROUTES_POST:
                raise WeComError(
                    43001 if method == "POST" else 43002, f"require {'GET' if method == 'POST' else 'POST'} method"
                )
            raise WeComError(404)
        corp.check_token(query.get("access_token"))
        srv.admit(api)
        if api in MULTIPART:
            body = _media_part(raw, self.headers.get("Content-Type", ""))
        else:
            body = self._json_body(raw) if method == "POST" else {}
        concurrency = srv.limits.concurrency
        with srv.flight_lock:
            srv.in_flight += 1
            over = concurrency is not None and srv.in_flight > concurrency
        try:
            if over:
                raise WeComError(45033)
            if srv.limits.latency:
                time.sleep(srv.limits.latency)
            corp.settle()
            answer = route(corp, query, body, srv)
        finally:
            with srv.flight_lock:
                srv.in_flight -= 1
        if srv.answer_delays.get(api):
            time.sleep(srv.answer_delays[api])  # done, but answered late: the caller may have given up
        return {"errcode": 0, "errmsg": "ok"} | (answer or {})

    @staticmethod
    def _json_body(raw: bytes) -> dict:
        if not raw.strip():
            raise WeComError(44001)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise WeComError(47001) from exc
        if not isinstance(body, dict):
            raise WeComError(47001)
        return body

    def _control(self, method: str, name: str, raw: bytes) -> None:
        if name.startswith("qr/") and method == "GET":
            config_id = name[3:]
            if config_id not in self.server.corp.contact_ways:
                self._send(404, b"not found", "text/plain")
                return
            self._send(200, qr_svg(config_id), "image/svg+xml")
            return
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            self._json({"errcode": 47001, "errmsg": "data format error"}, status=400)
            return
        if (method == "GET") != (name in ("state", "welcomes", "app_messages")):
            self._json({"errcode": 43001, "errmsg": "wrong method"}, status=405)
            return
        try:
            self._json({"errcode": 0, "errmsg": "ok"} | _control(self.server, name, body))
        except WeComError as exc:
            self._json(exc.answer(), status=404 if exc.errcode == 404 else 400)
        except (TypeError, ValueError) as exc:
            self._json({"errcode": 40058, "errmsg": str(exc)}, status=400)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _json(self, payload: dict, status: int = 200) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class RunningServer:
    """A started local WeCom server: ``url`` (no trailing slash; the API is at url + "/cgi-bin/"),
    ``corp``, the credentials, ``events`` (every event the corp emitted), ``callbacks`` (the sender,
    or None without a callback URL) and ``stop()``."""

    def __init__(self, httpd: _Server, thread: threading.Thread, *, token: str, aes_key: str):
        self._httpd = httpd
        self._thread = thread
        self.corp = httpd.corp
        host, port = httpd.server_address[:2]
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"
        self.corp_id = self.corp.corp_id
        self.secret = self.corp.secret
        self.token = token
        self.aes_key = aes_key
        self.crypto = CallbackCrypto(token=token, aes_key=aes_key, corp_id=self.corp.corp_id)

    @property
    def callbacks(self) -> CallbackSender | None:
        return self._httpd.sender

    def calls(self, api: str | None = None) -> int:
        """Authenticated calls to one API ("externalcontact/transfer_customer"), or to all of them."""
        counts = self._httpd.calls
        return counts.get(api, 0) if api else sum(counts.values())

    @property
    def events(self) -> collections.deque:
        return self._httpd.events

    @property
    def app_messages(self) -> list[dict]:
        """The app messages (message/send) taken: msgid, agentid, touser (valid userids), content."""
        return self._httpd.app_messages

    def set_limits(self, limits) -> None:
        """``None`` lifts the limits; a dict or ``Limits`` sets them (counts start afresh)."""
        self._httpd.limits = _limits(limits)
        self._httpd.limits_on = limits is not None

    def delay_answers(self, api: str, seconds: float) -> None:
        """Answer ``api`` ("externalcontact/add_msg_template") ``seconds`` after doing its work (0:
        at once), as a server that took a call but answered past the client's timeout."""
        self._httpd.answer_delays[api] = float(seconds)

    def verify_url(self, echo: str = "siyu-fake-echo") -> tuple[int, str]:
        if self.callbacks is None:
            raise RuntimeError("no callback URL configured")
        return self.callbacks.verify_url(echo)

    def wait_callbacks(self, timeout: float = 30.0) -> bool:
        return True if self.callbacks is None else self.callbacks.wait_idle(timeout)

    def stop(self) -> None:
        if self.callbacks is not None:
            self.callbacks.stop()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start(
    corp: FakeCorp | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    callback_url: str | None = None,
    token: str = DEFAULT_TOKEN,
    aes_key: str = DEFAULT_AES_KEY,
    limits=Limits(),  # noqa: B008 - a fresh copy is made below
    callback_timeout: float = 5.0,
    callback_retries: int = 3,
    callback_retry_delay: float = 0.2,
) -> RunningServer:
    """Serve ``corp`` on a daemon thread. ``limits``: a ``Limits`` or dict, or None for none."""
    corp = corp or FakeCorp()
    if isinstance(limits, Limits):
        limits = Limits(
            per_minute=limits.per_minute,
            per_hour=limits.per_hour,
            concurrency=limits.concurrency,
            latency=limits.latency,
        )
    crypto = CallbackCrypto(token=token, aes_key=aes_key, corp_id=corp.corp_id)
    sender = None
    if callback_url:
        sender = CallbackSender(
            url=callback_url,
            crypto=crypto,
            timeout=callback_timeout,
            retries=callback_retries,
            retry_delay=callback_retry_delay,
        )
    httpd = _Server((host, port), _Handler)
    httpd.setup_state(corp, limits, sender)
    httpd.base_url = "http://{}:{}".format(*httpd.server_address[:2])

    def record(fields: dict) -> None:
        httpd.events.append(fields)
        if sender is not None:
            sender.send(fields)

    corp.listeners.append(record)
    thread = threading.Thread(
        target=httpd.serve_forever, name="wecom-fake-server", daemon=True, kwargs={"poll_interval": 0.1}
    )
    thread.start()
    return RunningServer(httpd, thread, token=token, aes_key=aes_key)
