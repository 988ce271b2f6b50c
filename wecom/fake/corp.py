"""The simulated corp behind the local WeCom server: staff, external contacts, tags, groups, channel
codes, welcome codes, handovers and mass-message tasks, with WeCom's rules and error codes.

Contacts are computed by index from the seed (contact i's name, tags, followers…), so a corp of ten
million contacts costs nothing until read; only what changes (edits, additions, deletions,
transfers) is kept, in dicts. Every method raises ``WeComError(errcode)`` where WeCom answers an
error. Time comes from ``clock()`` plus ``offset``, so tests move time with ``travel(seconds)``.
Changes that WeCom reports by callback call each of ``listeners`` with the event's fields.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable

from . import names

ERRMSG = {
    0: "ok",
    40001: "invalid credential",
    40003: "invalid userid",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40058: "invalid parameter",
    40004: "invalid media type",
    40005: "invalid type",
    40006: "invalid file size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40050: "chatid not found",
    40068: "invalid tagid",
    40096: "invalid external userid",
    41063: "remind too frequently",
    43001: "require GET method",
    43002: "require POST method",
    40128: "customer transfer too frequently",
    40129: "customer in transfer",
    40130: "handover and takeover is same",
    41001: "access_token missing",
    41051: "welcome code invalid or used",
    42001: "access_token expired",
    44001: "empty post data",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    60011: "no privilege to access/modify contact/party/agent",
    81017: "too many owners, need owner_filter",
    84061: "not external contact",
    404: "no such api",
}

DAY = 86400
MEDIA_LIFE = 3 * DAY  # a temporary media_id's life
MEDIA_TYPES = {"image": 10 * 1024 * 1024, "voice": 2 * 1024 * 1024, "video": 10 * 1024 * 1024,
               "file": 20 * 1024 * 1024}  # type -> the largest file
NINETY_DAYS = 90 * DAY
TWO_YEARS = 730 * DAY
# add_way and its share among base contacts (WECOM.md "External contacts").
ADD_WAYS = ((1, 45), (2, 12), (3, 8), (4, 6), (5, 10), (6, 6), (10, 3), (13, 4), (201, 3), (202, 2), (0, 1))
CUSTOMER_INITIATED = {1, 3, 4, 10, 13}
STRANGER_BASE = 2**39  # indices of group members who are no one's contact (index_of refuses them)


class WeComError(Exception):
    def __init__(self, errcode: int, errmsg: str | None = None, **extra):
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "error")
        self.extra = extra
        super().__init__(f"{errcode} {self.errmsg}")

    def answer(self) -> dict:
        return {"errcode": self.errcode, "errmsg": self.errmsg, **self.extra}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(offset: int) -> str:
    return _b64(f"o{offset}".encode()) if offset else ""


def decode_cursor(cursor) -> int:
    if not cursor:
        return 0
    try:
        text = _unb64(str(cursor)).decode()
        if not text.startswith("o"):
            raise ValueError
        return max(0, int(text[1:]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise WeComError(40058, "invalid cursor") from exc


def page(items: list, cursor, limit: int) -> tuple[list, str]:
    start = decode_cursor(cursor)
    chunk = items[start : start + limit]
    return chunk, encode_cursor(start + limit) if start + limit < len(items) else ""


def _decode_batch_cursor(cursor) -> tuple[int, int]:
    # batch/get_by_user's cursor: which of the asked staff members, and how far into their list.
    if not cursor:
        return 0, 0
    try:
        text = _unb64(str(cursor)).decode()
        pos, offset = text[1:].split(":")
        if not text.startswith("b"):
            raise ValueError
        return max(0, int(pos)), max(0, int(offset))
    except (ValueError, UnicodeDecodeError) as exc:
        raise WeComError(40058, "invalid cursor") from exc


class FakeCorp:
    def __init__(
        self,
        *,
        seed: int = 1,
        staff: Iterable[str] | None = None,
        staff_count: int | None = None,
        contacts_per_staff: int = 40,
        shared_ratio: float = 0.1,
        corp_id: str = "wwfake0000000001",
        secret: str = "fake-corp-secret",  # noqa: S107 - the simulated corp's own secret
        states: Iterable[str] | None = None,
        state_ratio: float = 0.3,
        now: float | None = None,
        clock: Callable[[], float] = time.time,
        token_ttl: int = 7200,
        welcome_ttl: float = 20.0,
        transfer_delay: float = 2.0,
        transfer_refused: float = 0.05,
        transfer_full: float = 0.05,
        confirm_delay: float = 1.0,
        confirm_share: float = 0.7,
        daily_cap: int = 1,
        groups_per_staff: int = 2,
        restricted: Iterable[str] = (),
    ):
        if staff is None:
            staff = [f"staff{n:04d}" for n in range(1, staff_count + 1)] if staff_count else names.demo_staff()
        self.staff = list(staff)
        if not self.staff:
            raise ValueError("a corp needs at least one staff member")
        self.staff_index = {u: n for n, u in enumerate(self.staff)}
        self.seed = seed
        self.per_staff = contacts_per_staff
        self.shared_ratio = shared_ratio
        self.corp_id = corp_id
        self.secret = secret
        self.states = list(states) if states is not None else names.demo_states()
        self.state_ratio = state_ratio
        self.clock = clock
        self.offset = 0.0
        self.epoch = int(now if now is not None else clock()) // DAY * DAY
        self.token_ttl = token_ttl
        self.welcome_ttl = welcome_ttl
        self.transfer_delay = transfer_delay
        self.transfer_refused = transfer_refused
        self.transfer_full = transfer_full
        self.confirm_delay = confirm_delay
        self.confirm_share = confirm_share
        self.daily_cap = daily_cap
        self.groups_per_staff = groups_per_staff
        self.restricted = set(restricted)
        self.resigned: set[str] = set()
        self.lock = threading.RLock()
        self.listeners: list[Callable[[dict], None]] = []
        self._key = hashlib.sha256(f"siyu-fake:{seed}:{corp_id}".encode()).digest()
        self.base_count = len(self.staff) * contacts_per_staff
        self._shared_cut = int(shared_ratio * 2**64)
        self._follow_version = 0  # bumped on every change of who follows whom (for the list cache)
        self._lists: dict[str, tuple[int, list[int]]] = {}
        self._next_index = self.base_count
        self._ids = itertools.count(1)
        # mutations
        self._added: dict[int, dict] = {}  # index -> external_contact fields of contacts added later
        self._contact_edits: dict[int, dict] = {}
        self._follow_added: dict[int, dict[str, dict]] = {}  # index -> userid -> follow fields
        self._follow_edits: dict[tuple[int, str], dict] = {}
        self._follow_removed: set[tuple[int, str]] = set()
        self._staff_added: dict[str, dict[int, None]] = {}  # userid -> ordered indices followed later
        self.tokens: dict[str, float] = {}
        self.welcome_codes: dict[str, dict] = {}
        self.welcomes_sent: list[dict] = []
        self.contact_ways: dict[str, dict] = {}
        self.transfers: dict[int, list[dict]] = {}  # index -> transfer records, oldest first
        self.chat_owner: dict[str, str] = {}
        self.chat_changes: dict[str, dict] = {}  # chat id -> name, added/removed members, dismissed, version
        self._extra_chats: dict[int, int] = {}  # staff index -> chats created after the start
        self.chat_transfers: dict[str, list[float]] = {}
        self.msg_tasks: dict[str, dict] = {}
        self.media: dict[str, dict] = {}  # media_id -> type, created_at, filename, content_type, size, sha256
        self._waiting: list[tuple[int, dict]] = []  # transfers in progress
        self._unconfirmed: list[str] = []  # mass-message tasks before their confirmation time
        self.received: dict[tuple[int, int], int] = {}  # (index, day) -> mass messages received
        self._init_tags()
        from .moments import Moments  # here: moments.py builds on this module

        self.moments = Moments(self)

    # --- time and events ----------------------------------------------------------------------
    def now(self) -> float:
        return self.clock() + self.offset

    def travel(self, seconds: float) -> None:
        """Move the corp's clock forward (token expiry, welcome codes, transfers, confirmations)."""
        with self.lock:
            self.offset += seconds

    def emit(self, event: str, change_type: str, **fields) -> None:
        payload = {"Event": event, "ChangeType": change_type, "CreateTime": str(int(self.now()))}
        payload.update({k: str(v) for k, v in fields.items() if v is not None})
        for listener in list(self.listeners):
            listener(payload)

    def _id(self, prefix: str) -> str:
        n = next(self._ids)
        return prefix + hashlib.sha256(self._key + f"{prefix}{n}".encode()).hexdigest()[:22]

    def _rng(self, i: int, salt: int = 0) -> random.Random:
        return random.Random((self.seed * 1_000_003 + salt) * 0x1_0000_0000_0000 + i)

    # --- tokens ------------------------------------------------------------------------------
    def issue_token(self, corpid: str | None, corpsecret: str | None) -> dict:
        if corpid != self.corp_id:
            raise WeComError(40013)
        if not corpsecret or not hmac.compare_digest(corpsecret.encode(), self.secret.encode()):
            raise WeComError(40001)
        with self.lock:
            token = secrets.token_urlsafe(48)
            self.tokens[token] = self.now() + self.token_ttl
            return {"access_token": token, "expires_in": self.token_ttl}

    def check_token(self, token: str | None) -> None:
        if not token:
            raise WeComError(41001)
        expires = self.tokens.get(token)
        if expires is None:
            raise WeComError(40014)
        if self.now() >= expires:
            raise WeComError(42001)

    def agent_ticket(self, kind) -> dict:
        """ticket/get?type=agent_config: the app's jsapi ticket for the sidebar's agentConfig (the
        same ticket until it expires, as WeCom does)."""
        if kind != "agent_config":
            raise WeComError(40058)
        with self.lock:
            moment = self.now()
            current = getattr(self, "_agent_ticket", None)
            if current is None or current[1] <= moment:
                current = (secrets.token_urlsafe(40), moment + self.token_ttl)
                self._agent_ticket = current
            return {"ticket": current[0], "expires_in": max(1, int(current[1] - moment))}

    def expire_tokens(self) -> int:
        with self.lock:
            moment = self.now()
            for token in self.tokens:
                self.tokens[token] = min(self.tokens[token], moment)
            return len(self.tokens)

    # --- ids -----------------------------------------------------------------------------------
    def _seal(self, prefix: str, raw: bytes) -> str:
        # An opaque, verifiable id: a MAC of the index, then the index masked by that MAC.
        mac = hmac.new(self._key, prefix.encode() + raw, hashlib.sha256).digest()[:16]
        mask = hashlib.sha256(self._key + mac).digest()[: len(raw)]
        return prefix + _b64(mac + bytes(a ^ b for a, b in zip(raw, mask, strict=True)))

    def _unseal(self, prefix: str, text, size: int) -> bytes | None:
        text = str(text or "")
        if not text.startswith(prefix):
            return None
        try:
            data = _unb64(text[len(prefix) :])
        except ValueError:
            return None
        if len(data) != 16 + size:
            return None
        mac, masked = data[:16], data[16:]
        mask = hashlib.sha256(self._key + mac).digest()[:size]
        raw = bytes(a ^ b for a, b in zip(masked, mask, strict=True))
        expected = hmac.new(self._key, prefix.encode() + raw, hashlib.sha256).digest()[:16]
        return raw if hmac.compare_digest(mac, expected) else None

    def external_userid(self, i: int) -> str:
        return self._seal("wm", i.to_bytes(5, "big"))

    def index_of(self, external_userid) -> int:
        """The contact's index; 40096 for an id this corp never issued."""
        raw = self._unseal("wm", external_userid, 5)
        if raw is None or int.from_bytes(raw, "big") >= self._next_index:
            raise WeComError(40096)
        return int.from_bytes(raw, "big")

    def check_staff(self, userid, *, permission: bool = True) -> str:
        if not isinstance(userid, str) or userid not in self.staff_index:
            raise WeComError(40003)
        if permission and userid in self.restricted:
            raise WeComError(60011)
        return userid

    # --- tags ------------------------------------------------------------------------------
    def _init_tags(self) -> None:
        self.tag_groups: dict[str, dict] = {}
        self.tag_index: dict[str, str] = {}  # tag id -> group id
        stores = sorted({names.store_of(u) for u in self.staff} - {None})
        groups = names.TAG_GROUPS + [(names.STORE_GROUP, [names.store_name(c) for c in stores])]
        self._base_tags: list[list[str]] = []
        for order, (group_name, tag_names) in enumerate(groups):
            group = self._new_group(group_name, order=order, created=self.epoch - TWO_YEARS)
            ids = [self._new_tag(group, n, order=k, created=self.epoch - TWO_YEARS) for k, n in enumerate(tag_names)]
            self._base_tags.append(ids)
        self._store_tag = dict(zip(stores, self._base_tags[-1], strict=True))

    def _new_group(self, name: str, *, order: int = 0, created: float | None = None) -> dict:
        group = {
            "group_id": self._id("et"),
            "group_name": name,
            "create_time": int(created if created is not None else self.now()),
            "order": order,
            "deleted": False,
            "tags": {},
        }
        self.tag_groups[group["group_id"]] = group
        return group

    def _new_tag(self, group: dict, name: str, *, order: int = 0, created: float | None = None) -> str:
        tag_id = self._id("et")
        group["tags"][tag_id] = {
            "id": tag_id,
            "name": name,
            "create_time": int(created if created is not None else self.now()),
            "order": order,
            "deleted": False,
        }
        self.tag_index[tag_id] = group["group_id"]
        return tag_id

    def tag(self, tag_id: str) -> dict | None:
        group = self.tag_groups.get(self.tag_index.get(tag_id, ""))
        return group["tags"][tag_id] if group else None

    def corp_tag_list(self, *, tag_id=None, group_id=None) -> list[dict]:
        tag_id, group_id = tag_id or [], group_id or []
        if not isinstance(tag_id, list) or not isinstance(group_id, list):
            raise WeComError(40058)
        out = []
        for group in self.tag_groups.values():
            if group_id and group["group_id"] not in group_id:
                continue
            tags = [dict(t) for t in group["tags"].values() if not tag_id or t["id"] in tag_id]
            if tag_id and not tags:
                continue
            out.append({k: v for k, v in group.items() if k != "tags"} | {"tag": tags})
        return out

    def add_corp_tag(self, *, group_id=None, group_name=None, order=0, tag=None) -> dict:
        tags = tag or []
        if not isinstance(tags, list) or not tags or any(not isinstance(t, dict) or not t.get("name") for t in tags):
            raise WeComError(40058, "tag list required")
        with self.lock:
            if group_id:
                group = self.tag_groups.get(group_id)
                if group is None or group["deleted"]:
                    raise WeComError(40068, "invalid tagid")
            else:
                if not group_name:
                    raise WeComError(40058, "group_name or group_id required")
                group = next((g for g in self.tag_groups.values() if g["group_name"] == group_name), None)
                group = group or self._new_group(str(group_name)[:30], order=int(order or 0))
            existing = {t["name"] for t in group["tags"].values()}
            for t in tags:
                if t["name"] not in existing:
                    self._new_tag(group, str(t["name"])[:30], order=int(t.get("order") or 0))
            return {k: v for k, v in group.items() if k != "tags"} | {"tag": list(group["tags"].values())}

    def edit_corp_tag(self, *, id=None, name=None, order=None) -> None:  # noqa: A002 - WeCom's field
        with self.lock:
            if id in self.tag_groups:
                target = self.tag_groups[id]
                key = "group_name"
            elif id in self.tag_index:
                target, key = self.tag(id), "name"
            else:
                raise WeComError(40068, "invalid tagid")
            if name:
                target[key] = str(name)[:30]
            if order is not None:
                target["order"] = int(order)

    def del_corp_tag(self, *, tag_id=None, group_id=None) -> None:
        tag_id, group_id = tag_id or [], group_id or []
        if not tag_id and not group_id:
            raise WeComError(40058, "tag_id or group_id required")
        with self.lock:
            for gid in group_id:
                group = self.tag_groups.pop(gid, None)
                if group is None:
                    raise WeComError(40068, "invalid tagid")
                for tid in group["tags"]:
                    self.tag_index.pop(tid, None)
            for tid in tag_id:
                gid = self.tag_index.pop(tid, None)
                if gid is None:
                    raise WeComError(40068, "invalid tagid")
                self.tag_groups[gid]["tags"].pop(tid)

    def mark_tag(self, *, userid=None, external_userid=None, add_tag=None, remove_tag=None) -> None:
        self.check_staff(userid)
        with self.lock:
            i = self.index_of(external_userid)
            if userid not in self.followers(i):
                raise WeComError(84061)
            for tid in list(add_tag or []) + list(remove_tag or []):
                if tid not in self.tag_index:
                    raise WeComError(40068, "invalid tagid")
            tags = list(self.follow_info(i, userid)["_tag_ids"])
            tags = [t for t in tags if t not in set(remove_tag or [])]
            tags += [t for t in add_tag or [] if t not in tags]
            self._follow_edits.setdefault((i, userid), {})["tags"] = tags

    def tag_event(self, *, change_type: str = "create", tag_type: str = "tag", id=None, name=None) -> dict:  # noqa: A002
        """An admin changes a corp tag in the WeCom console: apply it and send change_external_tag."""
        with self.lock:
            if change_type == "create":
                group = next(iter(self.tag_groups.values()))
                if tag_type == "tag_group":
                    group = self._new_group(name or "新标签组")
                    target = group["group_id"]
                else:
                    group = (
                        self.tag_groups.get(self.tag_index.get(id or "", "")) or self.tag_groups.get(id or "") or group
                    )
                    target = self._new_tag(group, name or "新标签")
            elif change_type == "update":
                self.edit_corp_tag(id=id, name=name)
                target = id
            elif change_type == "delete":
                if tag_type == "tag_group":
                    self.del_corp_tag(group_id=[id])
                else:
                    self.del_corp_tag(tag_id=[id])
                target = id
            else:
                raise WeComError(40058, "change_type must be create, update or delete")
        self.emit("change_external_tag", change_type, Id=target, TagType=tag_type)
        return {"id": target, "tag_type": tag_type, "change_type": change_type}

    # --- contacts -----------------------------------------------------------------------------
    def _owner(self, i: int) -> int | None:
        return i // self.per_staff if i < self.base_count else None

    def _shared(self, i: int) -> bool:
        # A keyed hash rather than a Random(): staff lists test a whole block of contacts at once.
        digest = hashlib.blake2b(i.to_bytes(5, "big"), key=self._key, digest_size=8).digest()
        return len(self.staff) > 1 and int.from_bytes(digest, "big") < self._shared_cut

    def _base_followers(self, i: int) -> list[str]:
        owner = self._owner(i)
        if owner is None:
            return []
        out = [self.staff[owner]]
        if self._shared(i):
            out.append(self.staff[(owner + 1) % len(self.staff)])
        return out

    def followers(self, i: int) -> list[str]:
        out = [u for u in self._base_followers(i) if (i, u) not in self._follow_removed]
        out += [u for u in self._follow_added.get(i, {}) if (i, u) not in self._follow_removed and u not in out]
        return out

    def contacts_of(self, userid: str) -> list[int]:
        """The indices of a staff member's contacts, in the order they were added."""
        cached = self._lists.get(userid)
        if cached is not None and cached[0] == self._follow_version:
            return cached[1]
        out = self._compute_contacts_of(userid)
        if len(self._lists) >= 256:
            self._lists.pop(next(iter(self._lists)))
        self._lists[userid] = (self._follow_version, out)
        return out

    def _compute_contacts_of(self, userid: str) -> list[int]:
        s = self.staff_index[userid]
        m = self.per_staff
        out = list(range(s * m, (s + 1) * m))
        if len(self.staff) > 1:
            prev = (s - 1) % len(self.staff)
            out += [i for i in range(prev * m, (prev + 1) * m) if self._shared(i)]
        out = [i for i in out if (i, userid) not in self._follow_removed]
        out += [i for i in self._staff_added.get(userid, {}) if (i, userid) not in self._follow_removed]
        return list(dict.fromkeys(out))

    def contact_count(self) -> int:
        return self._next_index

    def _base_contact(self, i: int) -> dict:
        rng = self._rng(i)
        name, surname, gender = names.person(rng)
        digest = hashlib.sha256(self._key + i.to_bytes(5, "big")).hexdigest()
        contact = {
            "external_userid": self.external_userid(i),
            "name": name,
            "avatar": f"http://wx.qlogo.cn/mmhead/{digest[:40]}/0",
            "type": 2 if rng.random() < 0.08 else 1,
            "gender": gender,
            "_surname": surname,
        }
        if contact["type"] == 2:
            contact["corp_name"] = rng.choice(names.COMPANIES)[:6]
            contact["corp_full_name"] = rng.choice(names.COMPANIES)
            contact["position"] = rng.choice(names.POSITIONS)
        if rng.random() < 0.7:  # a stable unionid for ~70%
            contact["unionid"] = "o" + _b64(hashlib.sha256(b"union" + self._key + i.to_bytes(5, "big")).digest()[:21])
        return contact

    def contact(self, i: int) -> dict:
        base = self._added.get(i) or self._base_contact(i)
        return base | self._contact_edits.get(i, {})

    def _base_follow(self, i: int, userid: str) -> dict:
        rng = self._rng(i, 1 + self.staff_index.get(userid, 0))
        contact = self.contact(i)
        created = self.epoch - rng.randrange(TWO_YEARS)
        tags = [rng.choice(self._base_tags[0]), rng.choice(self._base_tags[1])]
        tags += rng.sample(self._base_tags[2], rng.choice((0, 1, 1, 2)))
        store = names.store_of(userid)
        if store in self._store_tag:
            tags.append(self._store_tag[store])
        add_way = rng.choices([w for w, _ in ADD_WAYS], weights=[p for _, p in ADD_WAYS])[0]
        follow = {
            "userid": userid,
            "remark": names.remark(rng, contact["_surname"], contact["gender"]),
            "description": rng.choice(names.DESCRIPTIONS),
            "createtime": created,
            "_tag_ids": tags,
            "remark_mobiles": [names.mobile(rng)] if rng.random() < 0.3 else [],
            "add_way": add_way,
            "oper_userid": contact["external_userid"] if add_way in CUSTOMER_INITIATED else userid,
        }
        if self.states and rng.random() < self.state_ratio:
            own = f"store:{store}"
            follow["state"] = own if own in self.states else rng.choice(self.states)
        return follow

    def follow_info(self, i: int, userid: str) -> dict:
        base = self._follow_added.get(i, {}).get(userid) or self._base_follow(i, userid)
        edits = self._follow_edits.get((i, userid), {})
        follow = base | {k: v for k, v in edits.items() if k != "tags"}
        if "tags" in edits:
            follow["_tag_ids"] = edits["tags"]
        return follow

    def render_follow(self, follow: dict) -> dict:
        out = {k: v for k, v in follow.items() if not k.startswith("_")}
        tags = []
        for tid in follow["_tag_ids"]:
            tag = self.tag(tid)
            if tag is not None:
                group = self.tag_groups[self.tag_index[tid]]
                tags.append({"group_name": group["group_name"], "tag_name": tag["name"], "tag_id": tid, "type": 1})
        out["tags"] = tags
        return out

    def render_contact(self, i: int) -> dict:
        return {k: v for k, v in self.contact(i).items() if not k.startswith("_")}

    def get_contact(self, external_userid, cursor=None, limit: int = 500) -> dict:
        with self.lock:
            i = self.index_of(external_userid)
            followers = self.followers(i)
            if not followers:
                raise WeComError(84061)
            chunk, next_cursor = page(followers, cursor, limit)
            answer = {
                "external_contact": self.render_contact(i),
                "follow_user": [self.render_follow(self.follow_info(i, u)) for u in chunk],
            }
            if next_cursor:
                answer["next_cursor"] = next_cursor
            return answer

    def list_contacts(self, userid) -> list[str]:
        self.check_staff(userid)
        with self.lock:
            return [self.external_userid(i) for i in self.contacts_of(userid)]

    def batch_get_by_user(self, *, userid_list=None, cursor=None, limit=50) -> dict:
        if not isinstance(userid_list, list) or not userid_list or len(userid_list) > 100:
            raise WeComError(40058, "userid_list must hold 1 to 100 userids")
        limit = min(100, int(limit or 50))  # path/92994: over the maximum takes the maximum
        if limit < 1:
            raise WeComError(40058, "limit must be 1 to 100")
        for userid in userid_list:
            self.check_staff(userid)
        users = list(dict.fromkeys(userid_list))
        with self.lock:
            pos, offset = _decode_batch_cursor(cursor)
            chunk = []
            while len(chunk) < limit and pos < len(users):
                contacts = self.contacts_of(users[pos])
                taken = contacts[offset : offset + limit - len(chunk)]
                chunk += [(i, users[pos]) for i in taken]
                offset += len(taken)
                if offset >= len(contacts):
                    pos, offset = pos + 1, 0
            while pos < len(users) and offset >= len(self.contacts_of(users[pos])):
                pos, offset = pos + 1, 0
            items = [
                {"external_contact": self.render_contact(i), "follow_info": self._follow_info_batch(i, u)}
                for i, u in chunk
            ]
            next_cursor = _b64(f"b{pos}:{offset}".encode()) if pos < len(users) else ""
            return {"external_contact_list": items, "next_cursor": next_cursor}

    def _follow_info_batch(self, i: int, userid: str) -> dict:
        # batch/get_by_user answers tag ids only (tag_id[]), not the tag objects get answers.
        follow = self.render_follow(self.follow_info(i, userid))
        follow["tag_id"] = [t["tag_id"] for t in follow.pop("tags")]
        return follow

    def follow_user_list(self) -> list[str]:
        return [u for u in self.staff if u not in self.restricted and u not in self.resigned]

    # --- simulated customer behaviour ------------------------------------------------------------
    def add_contact(
        self, *, userid=None, state=None, name=None, external_userid=None, welcome: bool = True, config_id=None
    ) -> dict:
        """A customer adds a staff member (scanning a channel code when ``state`` or ``config_id`` is
        given: the code's state, and one of its members when no ``userid`` is named): a new contact (or
        an existing one adding another staff member), then add_external_contact."""
        if config_id:
            way = self.contact_way(config_id)
            users = way["user"] or self.staff
            userid = userid or users[self._rng(self._next_index, 31).randrange(len(users))]
            state = state or way["state"] or None
        self.check_staff(userid, permission=False)
        with self.lock:
            if external_userid:
                i = self.index_of(external_userid)
                if userid in self.followers(i):
                    raise WeComError(40058, "already a contact of that staff member")
            else:
                i = self._next_index
                self._next_index += 1
                contact = self._base_contact(i)
                if name:
                    contact["name"] = str(name)
                self._added[i] = contact
            rng = self._rng(i, 99)
            follow = self._base_follow(i, userid) | {"createtime": int(self.now())}
            follow.pop("state", None)
            if state:
                follow["state"] = str(state)
                follow["add_way"] = 1
            else:
                follow["add_way"] = rng.choice((2, 3, 5, 6))
            follow["oper_userid"] = self.external_userid(i)
            self._follow_added.setdefault(i, {})[userid] = follow
            self._follow_removed.discard((i, userid))
            self._staff_added.setdefault(userid, {})[i] = None
            self._follow_version += 1
            code = None
            if welcome:
                code = secrets.token_urlsafe(24)
                self.welcome_codes[code] = {"expires": self.now() + self.welcome_ttl, "used": False, "userid": userid}
            ext = self.external_userid(i)
        self.emit(
            "change_external_contact",
            "add_external_contact",
            UserID=userid,
            ExternalUserID=ext,
            State=state,
            WelcomeCode=code,
        )
        return {"external_userid": ext, "userid": userid, "welcome_code": code, "state": state}

    def delete(self, *, external_userid, userid, by: str = "customer") -> dict:
        """``by="customer"``: the customer deletes the staff member (del_follow_user); ``"staff"``:
        the staff member deletes the customer (del_external_contact)."""
        if by not in ("customer", "staff"):
            raise WeComError(40058, "by must be customer or staff")
        self.check_staff(userid, permission=False)
        with self.lock:
            i = self.index_of(external_userid)
            if userid not in self.followers(i):
                raise WeComError(84061)
            self._follow_removed.add((i, userid))
            self._follow_version += 1
        change = "del_follow_user" if by == "customer" else "del_external_contact"
        self.emit("change_external_contact", change, UserID=userid, ExternalUserID=external_userid)
        return {"external_userid": external_userid, "userid": userid, "change_type": change}

    def edit(
        self, *, external_userid, userid, remark=None, description=None, remark_mobiles=None, tags=None, name=None
    ) -> dict:
        """The staff member edits the contact's remark, description, phones or tags (edit_external_contact)."""
        self.check_staff(userid, permission=False)
        with self.lock:
            i = self.index_of(external_userid)
            if userid not in self.followers(i):
                raise WeComError(84061)
            edits = self._follow_edits.setdefault((i, userid), {})
            if remark is not None:
                edits["remark"] = str(remark)
            if description is not None:
                edits["description"] = str(description)
            if remark_mobiles is not None:
                edits["remark_mobiles"] = [str(m) for m in remark_mobiles]
            if tags is not None:
                edits["tags"] = [t for t in tags if t in self.tag_index]
            if name is not None:
                self._contact_edits.setdefault(i, {})["name"] = str(name)
        self.emit("change_external_contact", "edit_external_contact", UserID=userid, ExternalUserID=external_userid)
        return {"external_userid": external_userid, "userid": userid}

    def advance(self, *, changes: float = 0.01, callbacks: bool = True, seed: int | None = None,
                group_changes: int = 0) -> dict:
        """A simulated day: ``changes`` × the contacts change: 40% new contacts, 40% edited (remark or
        tags), 20% deleted (half by the customer, half by the staff member), each with its callback
        unless ``callbacks`` is false; and ``group_changes`` changes of customer groups (members
        joining or leaving, a new notice), each with its change_external_chat callback."""
        total = max(0, round(self.contact_count() * float(changes)))
        rng = random.Random(
            seed if seed is not None else (self.seed, self._next_index, len(self._follow_edits)).__hash__()
        )
        counts = {"added": 0, "edited": 0, "deleted": 0}
        listeners = self.listeners
        if not callbacks:
            self.listeners = []
        try:
            for _ in range(total):
                roll = rng.random()
                if roll < 0.4:
                    self.add_contact(
                        userid=rng.choice(self.staff),
                        state=rng.choice(self.states) if self.states and rng.random() < 0.5 else None,
                    )
                    counts["added"] += 1
                    continue
                i, userid = self._pick_pair(rng)
                if i is None:
                    continue
                ext = self.external_userid(i)
                if roll < 0.8:
                    # the store group is empty when no staff member's userid names a demo store
                    group = rng.choice([g for g in self._base_tags if g])
                    self.edit(
                        external_userid=ext,
                        userid=userid,
                        remark=f"{self.contact(i)['_surname']}女士 {rng.choice(names.REMARK_NOTES)}".strip(),
                        tags=list(dict.fromkeys(self.follow_info(i, userid)["_tag_ids"] + [rng.choice(group)])),
                    )
                    counts["edited"] += 1
                else:
                    self.delete(external_userid=ext, userid=userid, by=rng.choice(("customer", "staff")))
                    counts["deleted"] += 1
            if group_changes:
                counts["groups"] = self._advance_groups(rng, int(group_changes))
        finally:
            if not callbacks:
                self.listeners = listeners
        return counts

    def _advance_groups(self, rng: random.Random, n: int) -> int:
        done = 0
        for _ in range(n):
            chats = self._chat_ids()
            if not chats:
                break
            chat = rng.choice(chats)
            detail = rng.choices(("add_member", "del_member", "change_notice"), weights=(6, 3, 1))[0]
            notice = rng.choice(names.GROUP_NOTICES) if detail == "change_notice" else None
            try:
                self.chat_event(chat_id=chat, update_detail=detail, name=notice)
            except WeComError:
                continue  # nobody left to remove, or no one to add
            done += 1
        return done

    def _pick_pair(self, rng: random.Random) -> tuple[int | None, str | None]:
        for _ in range(20):
            i = rng.randrange(self.contact_count())
            followers = self.followers(i)
            if followers:
                return i, rng.choice(followers)
        return None, None

    # --- welcome messages ----------------------------------------------------------------------
    def send_welcome_msg(self, *, welcome_code=None, text=None, attachments=None, **_rest) -> None:
        with self.lock:
            entry = self.welcome_codes.get(welcome_code or "")
            if entry is None or entry["used"] or self.now() > entry["expires"]:
                raise WeComError(41051)
            content = (text or {}).get("content", "") if isinstance(text, dict) else ""
            attachments = attachments or []
            if not content and not attachments:
                raise WeComError(40058, "text and attachments are both empty")
            if len(attachments) > 9:
                raise WeComError(40058, "at most 9 attachments")
            entry["used"] = True
            self.welcomes_sent.append(
                {"welcome_code": welcome_code, "userid": entry["userid"], "text": content, "attachments": attachments}
            )

    # --- channel codes -----------------------------------------------------------------------
    def _check_way(self, body: dict, *, partial: bool = False) -> None:
        if not partial:
            if body.get("type") not in (1, 2):
                raise WeComError(40058, "type must be 1 or 2")
            if body.get("scene") not in (1, 2):
                raise WeComError(40058, "scene must be 1 or 2")
        if len(str(body.get("remark") or "")) > 30:
            raise WeComError(40058, "remark over 30 characters")
        if len(str(body.get("state") or "")) > 30:
            raise WeComError(40058, "state over 30 characters")
        users = body.get("user")
        if users is not None:
            if not isinstance(users, list) or len(users) > 100:
                raise WeComError(40058, "user holds at most 100 members")
            for u in users:
                self.check_staff(u)
        if not partial and not (users or body.get("party")):
            raise WeComError(40058, "user or party required")
        if not partial and body.get("type") == 1 and len(users or []) != 1:
            raise WeComError(40058, "a single code has exactly one member")

    def add_contact_way(self, body: dict, qr_base: str) -> dict:
        self._check_way(body)
        with self.lock:
            config_id = self._id("")
            way = {
                "config_id": config_id,
                "type": body["type"],
                "scene": body["scene"],
                "style": body.get("style", 1),
                "remark": body.get("remark", ""),
                "skip_verify": body.get("skip_verify", True),
                "state": body.get("state", ""),
                "user": list(body.get("user") or []),
                "party": list(body.get("party") or []),
                "is_temp": bool(body.get("is_temp", False)),
                "expires_in": int(body.get("expires_in") or 7 * DAY),
                "chat_expires_in": int(body.get("chat_expires_in") or DAY),
                "unionid": body.get("unionid", ""),
                "conclusions": body.get("conclusions", {}),
                "create_time": int(self.now()),
            }
            if body["scene"] == 2:
                way["qr_code"] = f"{qr_base}/_fake/qr/{config_id}"
            self.contact_ways[config_id] = way
            answer = {"config_id": config_id}
            if "qr_code" in way:
                answer["qr_code"] = way["qr_code"]
            return answer

    def contact_way(self, config_id) -> dict:
        way = self.contact_ways.get(config_id or "")
        if way is None:
            raise WeComError(40058, "invalid config_id")
        return way

    def update_contact_way(self, body: dict) -> None:
        with self.lock:
            way = self.contact_way(body.get("config_id"))
            self._check_way(body, partial=True)
            for key in (
                "remark",
                "skip_verify",
                "style",
                "state",
                "user",
                "party",
                "expires_in",
                "chat_expires_in",
                "unionid",
                "conclusions",
            ):
                if key in body:
                    way[key] = body[key]

    def del_contact_way(self, config_id) -> None:
        with self.lock:
            self.contact_way(config_id)
            del self.contact_ways[config_id]

    def list_contact_ways(self, *, start_time=None, end_time=None, cursor=None, limit=100) -> dict:
        limit = int(limit or 100)
        if not 1 <= limit <= 1000:
            raise WeComError(40058, "limit must be 1 to 1000")
        end = int(end_time or self.now())
        start = int(start_time or end - 90 * DAY)
        ids = [w["config_id"] for w in self.contact_ways.values() if start <= w["create_time"] <= end]
        chunk, next_cursor = page(ids, cursor, limit)
        return {"contact_way": [{"config_id": c} for c in chunk], "next_cursor": next_cursor}

    # --- customer groups ---------------------------------------------------------------------
    def chat_id(self, s: int, k: int) -> str:
        return self._seal("wr", s.to_bytes(4, "big") + bytes([k]))

    def _chat_index(self, chat_id) -> tuple[int, int]:
        raw = self._unseal("wr", chat_id, 5)
        if raw is None:
            raise WeComError(40050, "invalid chat_id")
        s, k = int.from_bytes(raw[:4], "big"), raw[4]
        if s >= len(self.staff) or k >= self.groups_per_staff + self._extra_chats.get(s, 0):
            raise WeComError(40050, "invalid chat_id")
        if self.chat_changes.get(chat_id, {}).get("dismissed"):
            raise WeComError(40050, "chat dismissed")
        return s, k

    def _chat_ids(self) -> list[str]:
        ids = []
        for s in range(len(self.staff)):
            for k in range(self.groups_per_staff + self._extra_chats.get(s, 0)):
                chat = self.chat_id(s, k)
                if not self.chat_changes.get(chat, {}).get("dismissed"):
                    ids.append(chat)
        return ids

    def chat_owner_of(self, chat_id: str) -> str:
        s, _k = self._chat_index(chat_id)
        return self.chat_owner.get(chat_id, self.staff[s])

    def _chat_status(self, chat_id: str) -> int:
        # groupchat/list's status: 0 owner active, 1 owner resigned and waiting for a new owner (the
        # simulated corp has no handover of groups in progress: 2 and 3 are never listed).
        return 1 if self.chat_owner_of(chat_id) in self.resigned else 0

    def group_chat_list(self, *, status_filter=0, owner_filter=None, cursor=None, limit=100) -> dict:
        try:
            limit = int(limit or 0)
        except (TypeError, ValueError):
            raise WeComError(40058, "limit must be 1 to 1000") from None
        if not 1 <= limit <= 1000:
            raise WeComError(40058, "limit must be 1 to 1000")
        if status_filter not in (0, 1, 2, 3, None):
            raise WeComError(40058, "status_filter must be 0 to 3")
        if owner_filter is not None and not isinstance(owner_filter, dict):
            raise WeComError(47001)
        owners = (owner_filter or {}).get("userid_list") or []
        if not isinstance(owners, list) or len(owners) > 100:
            raise WeComError(40058, "owner_filter.userid_list holds at most 100 userids")
        if not owners and len(self.staff) > 1000:
            raise WeComError(81017)
        for u in owners:
            self.check_staff(u, permission=False)
        with self.lock:
            wanted = set(owners)
            ids = self._chat_ids()
            if wanted:
                ids = [c for c in ids if self.chat_owner_of(c) in wanted]
            rows = [{"chat_id": c, "status": self._chat_status(c)} for c in ids]
            if status_filter:
                rows = [r for r in rows if r["status"] == status_filter]
            chunk, next_cursor = page(rows, cursor, limit)
            return {"group_chat_list": chunk, "next_cursor": next_cursor}

    def _store_staff(self, s: int) -> list[int]:
        """Indices of the staff of staff member s's store (s alone when the userid names no store)."""
        store = names.store_of(self.staff[s])
        if store is None:
            return [s]
        return [t for t, u in enumerate(self.staff) if names.store_of(u) == store]

    def _chat_title(self, s: int, k: int, rng: random.Random) -> str:
        store = names.store_of(self.staff[s]) or ""
        short = names.store_name(store).removesuffix("店") if store else ""
        return names.GROUP_CHAT_NAMES[(s + k) % len(names.GROUP_CHAT_NAMES)].format(store=short)

    def stranger_id(self, s: int, k: int, n: int) -> str:
        """A WeChat user in a group who is no staff member's contact: an external_userid this corp
        issued for the group only (externalcontact/get knows it not)."""
        return self.external_userid(STRANGER_BASE + (s * 256 + k) * 512 + n)

    def group_chat(self, chat_id, *, need_name: int = 0) -> dict:
        with self.lock:
            s, k = self._chat_index(chat_id)
            owner = self.chat_owner_of(chat_id)
            rng = self._rng(s, 500 + k)
            title = self._chat_title(s, k, rng)
            created = self.epoch - rng.randrange(TWO_YEARS)
            changes = self.chat_changes.get(chat_id, {})
            created = changes.get("created", created)
            title = changes.get("name", title)
            members = [{"userid": owner, "type": 1, "join_time": created, "join_scene": 1,
                        "invitor": {"userid": owner}, "group_nickname": ""}]
            helpers = [] if k >= self.groups_per_staff else [
                t for t in self._store_staff(s) if self.staff[t] != owner][:2]
            for t in helpers:  # colleagues of the owner's store help run the group
                members.append({"userid": self.staff[t], "type": 1, "join_time": created + 60, "join_scene": 1,
                                "invitor": {"userid": owner}, "group_nickname": ""})
            for i, joined, scene in self._chat_customers(chat_id, s, k):
                member = {
                    "userid": self.external_userid(i),
                    "type": 2,
                    "join_time": joined,
                    "join_scene": scene,
                    "group_nickname": "",
                }
                if scene in (1, 2):  # invited (directly or by link); a QR code scan has no invitor
                    member["invitor"] = {"userid": owner}
                if i >= STRANGER_BASE:
                    name = names.person(random.Random(f"{self.seed}:stranger:{i}"))[0]
                else:
                    contact = self.contact(i)
                    name = contact["name"]
                    if "unionid" in contact:
                        member["unionid"] = contact["unionid"]
                if need_name:
                    member["name"] = name
                members.append(member)
            if need_name:
                for m in members:
                    if m["type"] == 1:
                        m["name"] = m["userid"]
            return {
                "group_chat": {
                    "chat_id": chat_id,
                    "name": title,
                    "owner": owner,
                    "create_time": created,
                    "notice": changes.get("notice", names.GROUP_NOTICES[(s + k) % len(names.GROUP_NOTICES)]),
                    "member_list": members,
                    "admin_list": [{"userid": self.staff[t]} for t in helpers[:1]],
                    "member_version": self._member_version(chat_id),
                }
            }

    def _member_version(self, chat_id: str) -> str:
        version = self.chat_changes.get(chat_id, {}).get("version", 0)
        return hashlib.md5(f"{chat_id}:{version}".encode(), usedforsecurity=False).hexdigest()

    def _chat_customers(self, chat_id: str, s: int, k: int) -> list[tuple[int, int, int]]:
        """(contact index, join time, join scene) of the chat's customers."""
        changes = self.chat_changes.get(chat_id, {})
        out = []
        if k < self.groups_per_staff:
            # A chat from the start: 20 to 300 people, most of them customers of the owner's store
            # (the owner's own first), the rest WeChat users who are no one's contact.
            rng = self._rng(s, 500 + k)
            created = self.epoch - rng.randrange(TWO_YEARS)
            size = rng.randrange(20, 301)
            own = list(range(s * self.per_staff, (s + 1) * self.per_staff))  # the owner's own contacts
            others = [i for t in self._store_staff(s) if t != s
                      for i in range(t * self.per_staff, (t + 1) * self.per_staff)]
            want = int(size * rng.uniform(0.55, 0.9))
            mine = rng.sample(own, min(len(own), max(want * 2 // 3, 1)))
            chosen = mine + rng.sample(others, min(len(others), max(want - len(mine), 0)))
            for i in chosen:
                joined = min(created + rng.randrange(DAY * 60), self.epoch)
                out.append((i, joined, rng.choices((1, 2, 3), weights=(5, 2, 3))[0]))
            for n in range(max(size - 1 - len(out), 0)):
                joined = min(created + rng.randrange(DAY * 90), self.epoch)
                scene = rng.choices((1, 2, 3), weights=(2, 3, 5))[0]
                out.append((STRANGER_BASE + (s * 256 + k) * 512 + n, joined, scene))
        out += changes.get("added", [])
        removed = changes.get("removed", set())
        latest = {row[0]: row for row in out if row[0] not in removed}  # one who left and came back: once
        return list(latest.values())

    def chat_event(
        self,
        *,
        change_type="update",
        chat_id=None,
        owner=None,
        update_detail="add_member",
        external_userid=None,
        name=None,
    ) -> dict:
        """A customer group changes in WeCom (created, members join or leave, renamed, new owner,
        dismissed): apply it and send change_external_chat."""
        fields: dict = {}
        with self.lock:
            if change_type == "create":
                owner = self.check_staff(owner or self.staff[0], permission=False)
                s = self.staff_index[owner]
                k = self.groups_per_staff + self._extra_chats.get(s, 0)
                self._extra_chats[s] = self._extra_chats.get(s, 0) + 1
                chat_id = self.chat_id(s, k)
                self.chat_changes[chat_id] = {"created": int(self.now()), "name": name or "新建客户群", "version": 0}
            elif change_type in ("update", "dismiss"):
                s, k = self._chat_index(chat_id)
                changes = self.chat_changes.setdefault(chat_id, {})
                if change_type == "dismiss":
                    changes["dismissed"] = True
                else:
                    fields = self._update_chat(chat_id, s, k, changes, update_detail, external_userid, owner, name)
            else:
                raise WeComError(40058, "change_type must be create, update or dismiss")
        self.emit("change_external_chat", change_type, ChatId=chat_id, **fields)
        answer = {"chat_id": chat_id, "change_type": change_type, **{k.lower(): v for k, v in fields.items()}}
        if "MemChangeList" in fields:
            answer["externaluserid"] = fields["MemChangeList"]
        return answer

    def _update_chat(self, chat_id, s, k, changes, detail, external_userid, owner, name) -> dict:
        last = self._member_version(chat_id)
        fields: dict = {"UpdateDetail": detail}
        if detail in ("add_member", "del_member"):
            present = {row[0] for row in self._chat_customers(chat_id, s, k)}
            if external_userid:
                i = self.index_of(external_userid)
            elif detail == "add_member":
                candidates = [i for i in self.contacts_of(self.chat_owner_of(chat_id)) if i not in present]
                i = (
                    candidates[0]
                    if candidates
                    else self.index_of(self.add_contact(userid=self.chat_owner_of(chat_id))["external_userid"])
                )
            else:
                i = next(iter(sorted(present)), None)
                if i is None:
                    raise WeComError(40058, "the chat has no customer to remove")
            if detail == "add_member":
                if i in present:
                    raise WeComError(40058, "already a member")
                changes.setdefault("removed", set()).discard(i)
                changes.setdefault("added", []).append((i, int(self.now()), 1))
                fields["JoinScene"] = 1
            else:
                if i not in present:
                    raise WeComError(40058, "not a member")
                changes.setdefault("removed", set()).add(i)
                fields["QuitScene"] = 0
            fields["MemChangeCnt"] = 1
            # Who joined or left (newer WeCom versions list them; the event names no ExternalUserID).
            fields["MemChangeList"] = self.external_userid(i)
        elif detail == "change_owner":
            self.chat_owner[chat_id] = self.check_staff(owner, permission=False)
        elif detail == "change_name":
            changes["name"] = str(name or "客户群")
        elif detail == "change_notice":
            changes["notice"] = str(name or "")
        else:
            raise WeComError(40058, "unknown update_detail")
        changes["version"] = changes.get("version", 0) + 1
        fields["LastMemVer"], fields["CurMemVer"] = last, self._member_version(chat_id)
        return fields

    def transfer_chats(self, *, chat_id_list=None, new_owner=None) -> dict:
        chats = chat_id_list or []
        if not isinstance(chats, list) or not chats or len(chats) > 100:
            raise WeComError(40058, "chat_id_list must hold 1 to 100 chats")
        self.check_staff(new_owner, permission=False)
        failed = []
        with self.lock:
            moment = self.now()
            for chat in chats:
                try:
                    if self.chat_owner_of(chat) == new_owner:
                        raise WeComError(40130)
                    recent = [t for t in self.chat_transfers.get(chat, []) if moment - t < NINETY_DAYS]
                    if len(recent) >= 2:
                        raise WeComError(40128)
                except WeComError as exc:
                    failed.append({"chat_id": chat, "errcode": exc.errcode, "errmsg": exc.errmsg})
                    continue
                self.chat_owner[chat] = new_owner
                self.chat_transfers.setdefault(chat, []).append(moment)
        return {"failed_chat_list": failed}

    # --- handover ----------------------------------------------------------------------------
    def transfer_customers(
        self,
        *,
        handover_userid=None,
        takeover_userid=None,
        external_userid=None,
        transfer_success_msg=None,
        resigned: bool = False,
    ) -> dict:
        self.check_staff(handover_userid, permission=False)
        self.check_staff(takeover_userid, permission=False)
        if handover_userid == takeover_userid:
            raise WeComError(40130)
        customers = external_userid or []
        if not isinstance(customers, list) or not customers or len(customers) > 100:
            raise WeComError(40058, "external_userid must hold 1 to 100 customers")
        if transfer_success_msg and len(str(transfer_success_msg)) > 200:
            raise WeComError(40058, "transfer_success_msg over 200 characters")
        self.settle()
        out = []
        with self.lock:
            moment = self.now()
            for ext in customers:
                out.append(
                    {
                        "external_userid": ext,
                        "errcode": self._start_transfer(ext, handover_userid, takeover_userid, moment, resigned),
                    }
                )
        return {"customer": out}

    def _start_transfer(self, ext, handover: str, takeover: str, moment: float, resigned: bool) -> int:
        try:
            i = self.index_of(ext)
        except WeComError as exc:
            return exc.errcode
        if handover not in self.followers(i):
            return 84061
        records = self.transfers.setdefault(i, [])
        if any(r["status"] == 2 for r in records):
            return 40129
        if not resigned and len([r for r in records if moment - r["start"] < NINETY_DAYS and not r["resigned"]]) >= 2:
            return 40128
        roll = self._rng(i, 700 + len(records)).random()
        outcome = 3 if roll < self.transfer_refused else 4 if roll < self.transfer_refused + self.transfer_full else 1
        record = {
            "handover": handover,
            "takeover": takeover,
            "start": moment,
            "status": 2,
            "outcome": outcome,
            "resigned": resigned,
            "takeover_time": 0,
        }
        records.append(record)
        self._waiting.append((i, record))
        return 0

    def settle(self) -> None:
        """Finish what time has finished: transfers past their delay, mass-message confirmations."""
        with self.lock:
            moment = self.now()
            if self._waiting:  # only what is still in progress is looked at, on every request
                still = []
                for i, r in self._waiting:
                    if moment - r["start"] >= self.transfer_delay:
                        self._finish_transfer(i, r, moment)
                    else:
                        still.append((i, r))
                self._waiting = still
            if self._unconfirmed:
                for msgid in list(self._unconfirmed):
                    task = self.msg_tasks[msgid]
                    if moment - task["create_time"] >= self.confirm_delay:
                        self._confirm_task(task)
                        self._unconfirmed.remove(msgid)

    def _finish_transfer(self, i: int, record: dict, moment: float) -> None:
        record["status"] = record["outcome"]
        ext = self.external_userid(i)
        if record["status"] != 1:
            self.emit(
                "change_external_contact",
                "transfer_fail",
                UserID=record["takeover"],
                ExternalUserID=ext,
                FailReason="customer_refused" if record["status"] == 3 else "customer_limit_exceed",
            )
            return
        record["takeover_time"] = int(moment)
        follow = self.follow_info(i, record["handover"]) | {
            "userid": record["takeover"],
            "add_way": 202 if record["resigned"] else 201,
            "createtime": int(moment),
        }
        self._follow_removed.add((i, record["handover"]))
        self._follow_added.setdefault(i, {})[record["takeover"]] = follow
        self._follow_removed.discard((i, record["takeover"]))
        self._staff_added.setdefault(record["takeover"], {})[i] = None
        self._follow_version += 1

    def transfer_result(
        self, *, handover_userid=None, takeover_userid=None, cursor=None, resigned: bool = False
    ) -> dict:
        self.check_staff(handover_userid, permission=False)
        self.check_staff(takeover_userid, permission=False)
        self.settle()
        with self.lock:
            rows = [
                {"external_userid": self.external_userid(i), "status": r["status"], "takeover_time": r["takeover_time"]}
                for i, records in self.transfers.items()
                for r in records
                if r["handover"] == handover_userid and r["takeover"] == takeover_userid and r["resigned"] == resigned
            ]
        chunk, next_cursor = page(rows, cursor, 1000)
        return {"customer": chunk, "next_cursor": next_cursor}

    # --- mass messages -------------------------------------------------------------------------
    # --- temporary media (media/upload) ----------------------------------------------------------
    def upload_media(self, media_type: str | None, filename: str, content_type: str, data: bytes | None) -> dict:
        """Keep an uploaded file as temporary media, valid MEDIA_LIFE seconds (path/90253): 40005 for
        a type other than image, voice, video or file, 44001 without the "media" part, 40006 for a
        file of 5 bytes or less (or over 20 MB), 40004 for an image that is not a JPG or PNG and
        40009 for one over 10 MB."""
        if media_type not in MEDIA_TYPES:
            raise WeComError(40005)
        if data is None:
            raise WeComError(44001, "empty media data")
        if len(data) <= 5 or len(data) > MEDIA_TYPES[media_type]:
            raise WeComError(40009 if media_type == "image" and len(data) > 5 else 40006)
        if media_type == "image" and not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
            raise WeComError(40004, "invalid media type: image must be JPG or PNG")
        with self.lock:
            media_id = "3" + self._id("m")
            created = int(self.now())
            self.media[media_id] = {"type": media_type, "created_at": created, "filename": filename,
                                    "content_type": content_type, "size": len(data),
                                    "sha256": hashlib.sha256(data).hexdigest()}
        return {"type": media_type, "media_id": media_id, "created_at": str(created)}

    def upload_attachment(self, media_type: str | None, attachment_type: str | None, filename: str,
                          content_type: str, data: bytes | None) -> dict:
        """media/upload_attachment (path/95098): a file kept for Moments (attachment_type 1) or
        product albums (2), with media/upload's checks; 40005 for another media_type (image, video,
        file only), 40058 for another attachment_type. Its media_id serves add_moment_task only."""
        if media_type not in ("image", "video", "file"):
            raise WeComError(40005)
        if str(attachment_type) not in ("1", "2"):
            raise WeComError(40058, "invalid attachment_type")
        answer = self.upload_media(media_type, filename, content_type, data)
        with self.lock:
            self.media[answer["media_id"]]["attachment_type"] = int(attachment_type)
        return answer

    def media_valid(self, media_id, media_type: str | None = None) -> bool:
        found = self.media.get(media_id) if isinstance(media_id, str) else None
        return bool(found and self.now() - found["created_at"] < MEDIA_LIFE
                    and (media_type is None or found["type"] == media_type))

    def check_attachments(self, attachments: list) -> None:
        """add_msg_template's attachments: each a known msgtype with its object; 40007 for a media_id
        the corp does not have (or that expired after three days), 40058 for a missing field."""
        required = {"image": (), "link": ("title", "url"), "miniprogram": ("title", "pic_media_id", "appid", "page"),
                    "video": ("media_id",), "file": ("media_id",)}
        for attachment in attachments:
            msgtype = attachment.get("msgtype") if isinstance(attachment, dict) else None
            if msgtype not in required:
                raise WeComError(40008, f"invalid attachment msgtype {msgtype!r}")
            item = attachment.get(msgtype)
            if not isinstance(item, dict):
                raise WeComError(40058, f"attachment {msgtype} has no {msgtype} object")
            missing = [f for f in required[msgtype] if not item.get(f)]
            if msgtype == "image" and not item.get("media_id") and not item.get("pic_url"):
                missing.append("media_id")
            if missing:
                raise WeComError(40058, f"attachment {msgtype}: missing {', '.join(missing)}")
            media = item.get("pic_media_id") if msgtype == "miniprogram" else item.get("media_id")
            if media and not self.media_valid(media, "image" if msgtype in ("image", "miniprogram") else msgtype):
                raise WeComError(40007)

    def add_msg_template(self, body: dict) -> dict:
        chat_type = body.get("chat_type") or "single"
        if chat_type not in ("single", "group"):
            raise WeComError(40058, "chat_type must be single or group")
        text = (body.get("text") or {}).get("content", "") if isinstance(body.get("text"), dict) else ""
        attachments = body.get("attachments") or []
        if len(text.encode("utf-8")) > 4000:
            raise WeComError(40058, "text.content over 4000 bytes")
        if not isinstance(attachments, list) or len(attachments) > 9:
            raise WeComError(40058, "at most 9 attachments")
        if not text and not attachments:
            raise WeComError(40058, "text and attachments are both empty")
        self.check_attachments(attachments)
        sender = body.get("sender")
        if sender is not None:
            self.check_staff(sender, permission=False)
        if chat_type == "group":
            return self._add_group_template(body, sender, text, attachments)
        externals = body.get("external_userid")
        if externals is not None and (not isinstance(externals, list) or len(externals) > 10000):
            raise WeComError(40058, "external_userid holds at most 10000 customers")
        with self.lock:
            targets, fail_list = self._single_targets(externals, sender)
            if not targets:
                return {"fail_list": fail_list, "msgid": ""}  # WeCom makes no task when no one is left
            msgid = "msg" + self._id("")
            self._unconfirmed.append(msgid)
            self.msg_tasks[msgid] = {
                "msgid": msgid,
                "chat_type": "single",
                "create_time": int(self.now()),
                "creator": sender or "",
                "create_type": 0,
                "text": text,
                "attachments": attachments,
                "targets": targets,
                "staff_status": dict.fromkeys(targets, 0),
                "send_time": {},
                "results": {},
                "settled": False,
                "cancelled": False,
                "reminders": [],
            }
            return {"fail_list": fail_list, "msgid": msgid}

    def _single_targets(self, externals, sender) -> tuple[dict[str, list[int]], list[str]]:
        targets: dict[str, list[int]] = {}
        fail = []
        if externals is None:
            senders = [sender] if sender else self.follow_user_list()
            for u in senders:
                targets[u] = self.contacts_of(u)
            return {u: v for u, v in targets.items() if v}, fail
        for ext in externals:
            try:
                i = self.index_of(ext)
            except WeComError:
                fail.append(ext)
                continue
            followers = self.followers(i)
            if sender:
                followers = [u for u in followers if u == sender]
            if not followers:
                fail.append(ext)
                continue
            # The task reaches the follower who last chatted with the customer: here, the last added.
            targets.setdefault(followers[-1], []).append(i)
        return targets, fail

    def _add_group_template(self, body: dict, sender, text: str, attachments: list) -> dict:
        if not sender:
            raise WeComError(40058, "sender is required for group messages")
        with self.lock:
            chats = body.get("chat_id_list")
            if not chats:
                own = self.group_chat_list(owner_filter={"userid_list": [sender]}, limit=1000)
                chats = own["group_chat_list"]
            chats = [c["chat_id"] if isinstance(c, dict) else c for c in chats][:2000]
            msgid = "msg" + self._id("")
            self._unconfirmed.append(msgid)
            self.msg_tasks[msgid] = {
                "msgid": msgid,
                "chat_type": "group",
                "create_time": int(self.now()),
                "creator": sender,
                "create_type": 0,
                "text": text,
                "attachments": attachments,
                "targets": {sender: []},
                "chats": chats,
                "staff_status": {sender: 0},
                "send_time": {},
                "results": {},
                "settled": False,
                "cancelled": False,
                "reminders": [],
            }
            return {"fail_list": [], "msgid": msgid}

    def _confirm_task(self, task: dict) -> None:
        task["settled"] = True
        moment = int(task["create_time"] + self.confirm_delay)
        day = moment // DAY
        for userid, indices in task["targets"].items():
            if (
                task["cancelled"]
                or random.Random(f"{self.seed}:{task['msgid']}:{userid}").random() >= self.confirm_share
            ):
                continue
            task["staff_status"][userid] = 2
            task["send_time"][userid] = moment
            for i in indices:
                if userid not in self.followers(i):
                    task["results"][(userid, i)] = (2, 0)
                elif self.received.get((i, day), 0) >= self.daily_cap:
                    task["results"][(userid, i)] = (3, 0)
                else:
                    self.received[(i, day)] = self.received.get((i, day), 0) + 1
                    task["results"][(userid, i)] = (1, moment)

    def _task(self, msgid) -> dict:
        task = self.msg_tasks.get(msgid or "")
        if task is None:
            raise WeComError(40058, "invalid msgid")
        return task

    def groupmsg_list(self, body: dict) -> dict:
        self.settle()
        chat_type = body.get("chat_type") or "single"
        start, end = body.get("start_time"), body.get("end_time")
        if not isinstance(start, int) or not isinstance(end, int) or end < start or end - start > 31 * DAY:
            raise WeComError(40058, "start_time and end_time span at most one month")
        limit = int(body.get("limit") or 50)
        if not 1 <= limit <= 100:
            raise WeComError(40058, "limit must be 1 to 100")
        creator, filter_type = body.get("creator"), body.get("filter_type", 2)
        rows = []
        for task in self.msg_tasks.values():
            if task["chat_type"] != chat_type or not start <= task["create_time"] <= end:
                continue
            if creator and task["creator"] != creator:
                continue
            if filter_type in (0, 1) and task["create_type"] != filter_type:
                continue
            row = {"msgid": task["msgid"], "create_type": task["create_type"], "create_time": str(task["create_time"])}
            if task["text"]:
                row["text"] = {"content": task["text"]}
            row["attachments"] = task["attachments"]
            rows.append(row)
        chunk, next_cursor = page(rows, body.get("cursor"), limit)
        return {"group_msg_list": chunk, "next_cursor": next_cursor}

    def groupmsg_task(self, *, msgid=None, limit=500, cursor=None) -> dict:
        self.settle()
        limit = int(limit or 500)
        if not 1 <= limit <= 1000:
            raise WeComError(40058, "limit must be 1 to 1000")
        with self.lock:
            task = self._task(msgid)
            rows = []
            for userid, status in task["staff_status"].items():
                row = {"userid": userid, "status": status}
                if status == 2:
                    row["send_time"] = task["send_time"][userid]
                rows.append(row)
        chunk, next_cursor = page(rows, cursor, limit)
        return {"task_list": chunk, "next_cursor": next_cursor}

    def groupmsg_send_result(self, *, msgid=None, userid=None, limit=500, cursor=None) -> dict:
        self.settle()
        self.check_staff(userid, permission=False)
        limit = int(limit or 500)
        if not 1 <= limit <= 1000:
            raise WeComError(40058, "limit must be 1 to 1000")
        with self.lock:
            task = self._task(msgid)
            rows = []
            if task["chat_type"] == "group":
                status = 1 if task["staff_status"].get(userid) == 2 else 0
                for chat in task.get("chats", []) if userid in task["targets"] else []:
                    row = {"chat_id": chat, "userid": userid, "status": status}
                    if status:
                        row["send_time"] = task["send_time"][userid]
                    rows.append(row)
            for i in task["targets"].get(userid, []) if task["chat_type"] == "single" else []:
                status, sent = task["results"].get((userid, i), (0, 0))
                row = {"external_userid": self.external_userid(i), "userid": userid, "status": status}
                if status == 1:
                    row["send_time"] = sent
                rows.append(row)
        chunk, next_cursor = page(rows, cursor, limit)
        return {"send_list": chunk, "next_cursor": next_cursor}

    def remind_groupmsg(self, msgid) -> None:
        with self.lock:
            task = self._task(msgid)
            moment = self.now()
            recent = [t for t in task["reminders"] if moment - t < DAY]
            if len(recent) >= 3:
                raise WeComError(41063, "remind at most 3 times in 24 hours")
            task["reminders"] = recent + [moment]

    def cancel_groupmsg(self, msgid) -> None:
        with self.lock:
            task = self._task(msgid)
            self.settle()
            task["cancelled"] = True

    # --- overview ----------------------------------------------------------------------------
    def state(self) -> dict:
        with self.lock:
            return {
                "corp_id": self.corp_id,
                "staff": len(self.staff),
                "contacts": self.contact_count(),
                "base_contacts": self.base_count,
                "added_contacts": len(self._added),
                "removed_follows": len(self._follow_removed),
                "edited_follows": len(self._follow_edits),
                "tag_groups": len(self.tag_groups),
                "tags": len(self.tag_index),
                "contact_ways": len(self.contact_ways),
                "tokens": len(self.tokens),
                "welcome_codes": len(self.welcome_codes),
                "welcomes_sent": len(self.welcomes_sent),
                "transfers": sum(len(v) for v in self.transfers.values()),
                "msg_tasks": len(self.msg_tasks),
                "now": int(self.now()),
            }
