"""The local WeCom server, spoken to over HTTP as Siyu's client speaks to WeCom: tokens, every
endpoint family with its documented errors, cursors, limits, the lazy corp, callbacks and the
control endpoints. No database: the server is a standalone protocol peer."""

from __future__ import annotations

import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from wechatpy.enterprise.crypto import WeChatCrypto

from tests.wecom.fake import AES_KEY, CORP_ID, SECRET, TOKEN, running_corp
from wecom.crypto import parse_xml
from wecom.fake.corp import FakeCorp

STAFF = ["sh01_staff1", "sh01_staff2", "sh02_staff1", "bj01_staff1"]


class Api:
    def __init__(self, server):
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=10)
        self.token = self.gettoken()["access_token"]

    def gettoken(self, corpid=CORP_ID, secret=SECRET) -> dict:
        return self.http.get("/cgi-bin/gettoken", params={"corpid": corpid, "corpsecret": secret}).json()

    def get(self, api: str, token: str | None = None, **params) -> dict:
        response = self.http.get(f"/cgi-bin/{api}", params={"access_token": token or self.token, **params})
        assert response.status_code == 200
        return response.json()

    def post(self, api: str, body=None, token: str | None = None, raw: bytes | None = None) -> dict:
        params = {"access_token": token or self.token}
        if raw is not None:
            response = self.http.post(f"/cgi-bin/{api}", params=params, content=raw)
        else:
            response = self.http.post(f"/cgi-bin/{api}", params=params, json=body if body is not None else {})
        assert response.status_code == 200  # WeCom answers every error with HTTP 200 and an errcode
        return response.json()

    def control(self, name: str, body: dict | None = None) -> httpx.Response:
        return self.http.post(f"/_fake/{name}", json=body or {})


@pytest.fixture
def server():
    with running_corp(staff=STAFF, contacts_per_staff=30) as running:
        yield running


@pytest.fixture
def api(server):
    return Api(server)


def ok(answer: dict) -> dict:
    assert answer["errcode"] == 0, answer
    assert answer["errmsg"] == "ok"
    return answer


# --- tokens ---------------------------------------------------------------------------------------
def test_gettoken_refuses_bad_credentials_and_tokens_coexist(api):
    assert api.gettoken(corpid="wwnotours")["errcode"] == 40013
    assert api.gettoken(secret="wrong")["errcode"] == 40001
    first, second = ok(api.gettoken()), ok(api.gettoken())
    assert first["expires_in"] == 7200 and first["access_token"] != second["access_token"]
    for token in (first["access_token"], second["access_token"]):
        ok(api.get("externalcontact/get_follow_user_list", token=token))


def test_missing_invalid_and_expired_tokens(server, api):
    response = api.http.get("/cgi-bin/externalcontact/get_follow_user_list")
    assert response.status_code == 200 and response.json()["errcode"] == 41001
    assert api.get("externalcontact/get_follow_user_list", token="nonsense")["errcode"] == 40014
    server.corp.travel(7199)
    ok(api.get("externalcontact/get_follow_user_list"))
    server.corp.travel(2)
    assert api.get("externalcontact/get_follow_user_list")["errcode"] == 42001
    fresh = ok(api.gettoken())["access_token"]
    ok(api.get("externalcontact/get_follow_user_list", token=fresh))
    assert ok(api.control("expire_tokens").json())["expired"] >= 2
    assert api.get("externalcontact/get_follow_user_list", token=fresh)["errcode"] == 42001
    assert api.http.get("/_fake/state").json()["tokens"] == 2  # every token issued, expired ones kept


def test_token_lifetime_is_configurable():
    with running_corp(staff=STAFF, token_ttl=5) as server:
        api = Api(server)
        assert api.gettoken()["expires_in"] == 5
        server.corp.travel(6)
        assert api.get("externalcontact/get_follow_user_list")["errcode"] == 42001


def test_bodies_methods_and_unknown_apis(api):
    assert api.post("externalcontact/batch/get_by_user", raw=b"")["errcode"] == 44001
    assert api.post("externalcontact/batch/get_by_user", raw=b"{not json")["errcode"] == 47001
    assert api.post("externalcontact/batch/get_by_user", raw=b"[1, 2]")["errcode"] == 47001
    assert api.post("externalcontact/list", {"userid": "x"})["errcode"] == 43001  # require GET
    assert api.get("externalcontact/add_msg_template")["errcode"] == 43002  # require POST
    assert api.get("externalcontact/no_such_thing")["errcode"] == 404


# --- external contacts ------------------------------------------------------------------------------
def test_follow_users_lists_and_contact_detail(server, api):
    assert ok(api.get("externalcontact/get_follow_user_list"))["follow_user"] == STAFF
    ids = ok(api.get("externalcontact/list", userid="sh01_staff1"))["external_userid"]
    assert len(ids) >= 30 and len(set(ids)) == len(ids) and all(i.startswith("wm") for i in ids)
    detail = ok(api.get("externalcontact/get", external_userid=ids[0]))
    contact = detail["external_contact"]
    assert contact["external_userid"] == ids[0] and contact["name"] and contact["avatar"].startswith("http")
    assert contact["type"] in (1, 2) and contact["gender"] in (0, 1, 2)
    follow = detail["follow_user"][0]
    assert follow["userid"] == "sh01_staff1"
    assert set(follow) >= {"remark", "description", "createtime", "tags", "remark_mobiles", "add_way", "oper_userid"}
    assert all(set(t) == {"group_name", "tag_name", "tag_id", "type"} for t in follow["tags"])
    assert "next_cursor" not in detail
    assert api.get("externalcontact/list", userid="nobody")["errcode"] == 40003
    assert api.get("externalcontact/get", external_userid="wmforged0000000000000000")["errcode"] == 40096
    assert api.get("externalcontact/get", external_userid=ids[0][:-2] + "AA")["errcode"] == 40096


def test_restricted_staff_is_60011_and_a_gone_contact_84061():
    with running_corp(staff=STAFF, contacts_per_staff=3, shared_ratio=0, restricted=["sh02_staff1"]) as server:
        api = Api(server)
        assert api.get("externalcontact/list", userid="sh02_staff1")["errcode"] == 60011
        assert "sh02_staff1" not in ok(api.get("externalcontact/get_follow_user_list"))["follow_user"]
        gone = ok(api.get("externalcontact/list", userid="sh01_staff1"))["external_userid"][0]
        ok(api.control("delete", {"external_userid": gone, "userid": "sh01_staff1", "by": "customer"}).json())
        assert api.get("externalcontact/get", external_userid=gone)["errcode"] == 84061
        assert gone not in api.get("externalcontact/list", userid="sh01_staff1")["external_userid"]


def test_batch_get_by_user_pages_end_to_end(api):
    expected = {(e, u) for u in STAFF for e in api.get("externalcontact/list", userid=u)["external_userid"]}
    seen, cursor, pages = [], "", 0
    while True:
        answer = ok(api.post("externalcontact/batch/get_by_user", {"userid_list": STAFF, "cursor": cursor, "limit": 7}))
        assert len(answer["external_contact_list"]) <= 7
        for item in answer["external_contact_list"]:
            assert set(item) == {"external_contact", "follow_info"}
            assert isinstance(item["follow_info"]["tag_id"], list)
            seen.append((item["external_contact"]["external_userid"], item["follow_info"]["userid"]))
        pages += 1
        cursor = answer["next_cursor"]
        if not cursor:
            break
    assert set(seen) == expected and len(seen) == len(expected) and pages == -(-len(expected) // 7)
    big = ok(api.post("externalcontact/batch/get_by_user", {"userid_list": STAFF, "limit": 500}))
    assert len(big["external_contact_list"]) == 100  # over the maximum takes the maximum
    assert api.post("externalcontact/batch/get_by_user", {"userid_list": ["x"] * 101})["errcode"] == 40058
    assert api.post("externalcontact/batch/get_by_user", {"userid_list": []})["errcode"] == 40058
    assert api.post("externalcontact/batch/get_by_user", {"userid_list": ["nobody"]})["errcode"] == 40003
    assert api.post("externalcontact/batch/get_by_user", {"userid_list": STAFF, "cursor": "!!"})["errcode"] == 40058


def test_get_pages_followers_past_500():
    staff = [f"guide{n:03d}" for n in range(620)]
    with running_corp(staff=staff, contacts_per_staff=1, shared_ratio=0) as server:
        corp = server.corp
        ext = corp.external_userid(0)
        for userid in staff[1:]:
            corp.add_contact(userid=userid, external_userid=ext, welcome=False)
        api = Api(server)
        first = ok(api.get("externalcontact/get", external_userid=ext))
        assert len(first["follow_user"]) == 500 and first["next_cursor"]
        rest = ok(api.get("externalcontact/get", external_userid=ext, cursor=first["next_cursor"]))
        assert len(rest["follow_user"]) == 120 and "next_cursor" not in rest
        assert {f["userid"] for f in first["follow_user"] + rest["follow_user"]} == set(staff)


def test_the_corp_is_deterministic_and_believable():
    a, b = (
        FakeCorp(seed=3, staff_count=20, contacts_per_staff=100),
        FakeCorp(seed=3, staff_count=20, contacts_per_staff=100),
    )
    other = FakeCorp(seed=4, staff_count=20, contacts_per_staff=100)
    assert a.get_contact(a.external_userid(17)) == b.get_contact(b.external_userid(17))
    assert a.render_contact(17)["name"] != other.render_contact(17)["name"] or a.external_userid(
        17
    ) != other.external_userid(17)
    contacts = [a.render_contact(i) for i in range(2000)]
    chinese = sum(1 for c in contacts if "\u4e00" <= c["name"][0] <= "\u9fff")
    assert 0.7 < chinese / 2000 < 0.95  # mostly 姓+名, some English nicknames
    assert 0.6 < sum("unionid" in c for c in contacts) / 2000 < 0.8
    wecom_users = [c for c in contacts if c["type"] == 2]
    assert 0.03 < len(wecom_users) / 2000 < 0.15 and all(c["corp_name"] for c in wecom_users)
    assert [a.render_contact(i) for i in range(50)] == [b.render_contact(i) for i in range(50)]  # unionids stable too
    shared = sum(len(a.followers(i)) == 2 for i in range(2000))
    assert 0.06 < shared / 2000 < 0.14
    follows = [a.follow_info(i, a.followers(i)[0]) for i in range(2000)]
    now = a.now()
    assert all(now - 731 * 86400 < f["createtime"] <= now for f in follows)
    assert 0.2 < sum(bool(f.get("state")) for f in follows) / 2000 < 0.4
    assert 0.2 < sum(bool(f["remark_mobiles"]) for f in follows) / 2000 < 0.4
    assert all(m.isdigit() and len(m) == 11 and m.startswith("1") for f in follows for m in f["remark_mobiles"])
    assert len({f["add_way"] for f in follows}) >= 6


def test_demo_defaults_follow_the_demo_staff_and_stores():
    corp = FakeCorp(contacts_per_staff=2)
    assert "sh01_staff1" in corp.staff and "sh01_manager" in corp.staff
    states = {corp.follow_info(i, u).get("state") for i in range(corp.contact_count()) for u in corp.followers(i)}
    assert "store:SH01" in states
    store_group = [g for g in corp.corp_tag_list() if g["group_name"] == "门店"][0]
    assert "上海南京西路店" in {t["name"] for t in store_group["tag"]}


# --- tags -------------------------------------------------------------------------------------
def test_corp_tags_crud_and_mark_tag(api):
    groups = ok(api.post("externalcontact/get_corp_tag_list"))["tag_group"]
    assert {"宝宝月龄", "会员等级", "兴趣", "门店"} <= {g["group_name"] for g in groups}
    interest = next(g for g in groups if g["group_name"] == "兴趣")
    assert {"跑步", "骑行", "露营"} <= {t["name"] for t in interest["tag"]}
    only = ok(api.post("externalcontact/get_corp_tag_list", {"group_id": [interest["group_id"]]}))["tag_group"]
    assert [g["group_id"] for g in only] == [interest["group_id"]]
    one_tag = interest["tag"][0]["id"]
    by_tag = ok(api.post("externalcontact/get_corp_tag_list", {"tag_id": [one_tag]}))["tag_group"]
    assert [t["id"] for t in by_tag[0]["tag"]] == [one_tag]

    added = ok(api.post("externalcontact/add_corp_tag", {"group_name": "活动", "tag": [{"name": "春季亲子营"}]}))
    new_tag = added["tag_group"]["tag"][0]["id"]
    ok(api.post("externalcontact/edit_corp_tag", {"id": new_tag, "name": "夏季亲子营"}))
    assert (
        api.post("externalcontact/get_corp_tag_list", {"tag_id": [new_tag]})["tag_group"][0]["tag"][0]["name"]
        == "夏季亲子营"
    )
    assert api.post("externalcontact/edit_corp_tag", {"id": "etnope"})["errcode"] == 40068
    assert api.post("externalcontact/add_corp_tag", {"group_name": "x", "tag": []})["errcode"] == 40058

    ext = api.get("externalcontact/list", userid="sh01_staff1")["external_userid"][0]
    ok(api.post("externalcontact/mark_tag", {"userid": "sh01_staff1", "external_userid": ext, "add_tag": [new_tag]}))
    tags = api.get("externalcontact/get", external_userid=ext)["follow_user"][0]["tags"]
    assert new_tag in {t["tag_id"] for t in tags}
    ok(api.post("externalcontact/mark_tag", {"userid": "sh01_staff1", "external_userid": ext, "remove_tag": [new_tag]}))
    tags = api.get("externalcontact/get", external_userid=ext)["follow_user"][0]["tags"]
    assert new_tag not in {t["tag_id"] for t in tags}
    stranger = api.get("externalcontact/list", userid="bj01_staff1")["external_userid"][0]
    followers = {f["userid"] for f in api.get("externalcontact/get", external_userid=stranger)["follow_user"]}
    if "sh01_staff1" not in followers:
        body = {"userid": "sh01_staff1", "external_userid": stranger, "add_tag": [new_tag]}
        assert api.post("externalcontact/mark_tag", body)["errcode"] == 84061
    ok(api.post("externalcontact/del_corp_tag", {"tag_id": [new_tag]}))
    assert api.post("externalcontact/get_corp_tag_list", {"tag_id": [new_tag]})["tag_group"] == []
    assert api.post("externalcontact/del_corp_tag", {})["errcode"] == 40058


def test_tag_event_changes_the_tag_and_reports_it(server, api):
    answer = ok(api.control("tag_event", {"change_type": "create", "tag_type": "tag_group", "name": "节日"}).json())
    assert answer["id"] in {g["group_id"] for g in api.post("externalcontact/get_corp_tag_list")["tag_group"]}
    event = server.events[-1]
    assert event["Event"] == "change_external_tag" and event["ChangeType"] == "create"
    assert event["TagType"] == "tag_group" and event["Id"] == answer["id"]
    ok(api.control("tag_event", {"change_type": "delete", "tag_type": "tag_group", "id": answer["id"]}).json())
    assert server.events[-1]["ChangeType"] == "delete"
    assert api.control("tag_event", {"change_type": "shuffle"}).status_code == 400


# --- customer groups ------------------------------------------------------------------------------
def test_group_chats_list_get_and_transfer(server, api):
    chats, cursor = [], ""
    while True:
        answer = ok(api.post("externalcontact/groupchat/list", {"limit": 3, "cursor": cursor}))
        chats += [c["chat_id"] for c in answer["group_chat_list"]]
        cursor = answer["next_cursor"]
        if not cursor:
            break
    assert len(chats) == len(STAFF) * 2 == len(set(chats))
    mine = ok(
        api.post("externalcontact/groupchat/list", {"limit": 100, "owner_filter": {"userid_list": ["sh01_staff1"]}})
    )
    mine_ids = [c["chat_id"] for c in mine["group_chat_list"]]
    assert len(mine_ids) == 2
    chat = ok(api.post("externalcontact/groupchat/get", {"chat_id": mine_ids[0], "need_name": 1}))["group_chat"]
    assert chat["owner"] == "sh01_staff1" and chat["name"]
    contacts = set(api.get("externalcontact/list", userid="sh01_staff1")["external_userid"])
    customers = [m for m in chat["member_list"] if m["type"] == 2]
    assert 20 <= len(chat["member_list"]) <= 300 and all(m["name"] for m in customers)
    assert {m["userid"] for m in customers} & contacts  # the owner's customers, and others of the store
    assert api.post("externalcontact/groupchat/list", {"limit": 0})["errcode"] == 40058
    assert api.post("externalcontact/groupchat/get", {"chat_id": "wrnope"})["errcode"] == 40050

    moved = ok(
        api.post("externalcontact/groupchat/onjob_transfer", {"chat_id_list": mine_ids, "new_owner": "sh01_staff2"})
    )
    assert moved["failed_chat_list"] == []
    assert api.post("externalcontact/groupchat/get", {"chat_id": mine_ids[0]})["group_chat"]["owner"] == "sh01_staff2"
    same = ok(
        api.post("externalcontact/groupchat/transfer", {"chat_id_list": mine_ids[:1], "new_owner": "sh01_staff2"})
    )
    assert same["failed_chat_list"][0]["errcode"] == 40130
    ok(api.post("externalcontact/groupchat/onjob_transfer", {"chat_id_list": mine_ids[:1], "new_owner": "sh01_staff1"}))
    third = ok(
        api.post("externalcontact/groupchat/onjob_transfer", {"chat_id_list": mine_ids[:1], "new_owner": "sh02_staff1"})
    )
    assert third["failed_chat_list"][0]["errcode"] == 40128  # twice per chat in 90 days
    assert (
        api.post("externalcontact/groupchat/onjob_transfer", {"chat_id_list": [], "new_owner": "sh01_staff1"})[
            "errcode"
        ]
        == 40058
    )


def test_chat_events_change_the_group_and_report_it(server, api):
    created = ok(
        api.control("chat_event", {"change_type": "create", "owner": "sh02_staff1", "name": "徐家汇露营群"}).json()
    )
    chat_id = created["chat_id"]
    assert server.events[-1] == server.events[-1] | {
        "Event": "change_external_chat",
        "ChangeType": "create",
        "ChatId": chat_id,
    }
    mine = api.post("externalcontact/groupchat/list", {"limit": 100, "owner_filter": {"userid_list": ["sh02_staff1"]}})
    assert chat_id in [c["chat_id"] for c in mine["group_chat_list"]]
    chat = ok(api.post("externalcontact/groupchat/get", {"chat_id": chat_id}))["group_chat"]
    assert chat["name"] == "徐家汇露营群" and [m["type"] for m in chat["member_list"]] == [1]
    joined = ok(api.control("chat_event", {"chat_id": chat_id, "update_detail": "add_member"}).json())
    event = server.events[-1]
    assert event["UpdateDetail"] == "add_member" and event["JoinScene"] == "1" and event["MemChangeCnt"] == "1"
    assert event["LastMemVer"] != event["CurMemVer"]
    chat = api.post("externalcontact/groupchat/get", {"chat_id": chat_id})["group_chat"]
    assert [m["userid"] for m in chat["member_list"] if m["type"] == 2] == [joined["externaluserid"]]
    assert chat["member_version"] == event["CurMemVer"]
    ok(api.control("chat_event", {"chat_id": chat_id, "update_detail": "del_member"}).json())
    assert server.events[-1]["QuitScene"] == "0"
    assert [
        m
        for m in api.post("externalcontact/groupchat/get", {"chat_id": chat_id})["group_chat"]["member_list"]
        if m["type"] == 2
    ] == []
    ok(api.control("chat_event", {"chat_id": chat_id, "update_detail": "change_name", "name": "新名字"}).json())
    assert api.post("externalcontact/groupchat/get", {"chat_id": chat_id})["group_chat"]["name"] == "新名字"
    ok(api.control("chat_event", {"chat_id": chat_id, "change_type": "dismiss"}).json())
    assert server.events[-1]["ChangeType"] == "dismiss"
    assert api.post("externalcontact/groupchat/get", {"chat_id": chat_id})["errcode"] == 40050
    assert api.control("chat_event", {"chat_id": "wrnope"}).status_code == 400


def test_groupchat_list_needs_an_owner_filter_past_1000_owners():
    corp = FakeCorp(staff_count=1001, contacts_per_staff=1)
    with pytest.raises(Exception) as caught:
        corp.group_chat_list(limit=10)
    assert caught.value.errcode == 81017
    assert corp.group_chat_list(limit=10, owner_filter={"userid_list": ["staff0001"]})["group_chat_list"]


# --- channel codes and welcome messages --------------------------------------------------------
def test_contact_ways_crud_and_qr(server, api):
    body = {
        "type": 2,
        "scene": 2,
        "remark": "南京西路门店海报",
        "state": "store:SH01",
        "user": ["sh01_staff1", "sh01_staff2"],
    }
    created = ok(api.post("externalcontact/add_contact_way", body))
    config_id, qr = created["config_id"], created["qr_code"]
    assert qr == f"{server.url}/_fake/qr/{config_id}"
    image = api.http.get(qr)
    assert image.status_code == 200 and image.headers["content-type"] == "image/svg+xml" and b"<svg" in image.content
    assert api.http.get(f"{server.url}/_fake/qr/nope").status_code == 404
    way = ok(api.post("externalcontact/get_contact_way", {"config_id": config_id}))["contact_way"]
    assert way["state"] == "store:SH01" and way["user"] == ["sh01_staff1", "sh01_staff2"]
    ok(api.post("externalcontact/update_contact_way", {"config_id": config_id, "remark": "新海报"}))
    assert api.post("externalcontact/get_contact_way", {"config_id": config_id})["contact_way"]["remark"] == "新海报"
    second = ok(api.post("externalcontact/add_contact_way", body | {"type": 1, "user": ["sh02_staff1"]}))
    listed = ok(api.post("externalcontact/list_contact_way", {"limit": 1}))
    assert len(listed["contact_way"]) == 1 and listed["next_cursor"]
    rest = ok(api.post("externalcontact/list_contact_way", {"limit": 1, "cursor": listed["next_cursor"]}))
    assert {listed["contact_way"][0]["config_id"], rest["contact_way"][0]["config_id"]} == {
        config_id,
        second["config_id"],
    }
    ok(api.post("externalcontact/del_contact_way", {"config_id": config_id}))
    assert api.post("externalcontact/get_contact_way", {"config_id": config_id})["errcode"] == 40058
    for bad in (
        body | {"remark": "长" * 31},
        body | {"type": 3},
        body | {"user": ["nobody"]},
        body | {"type": 1},  # a single code has one member
        body | {"user": [], "party": []},
    ):
        assert api.post("externalcontact/add_contact_way", bad)["errcode"] in (40058, 40003), bad


def test_welcome_code_once_within_its_window():
    with running_corp(staff=STAFF, contacts_per_staff=2, welcome_ttl=20) as server:
        api = Api(server)
        added = ok(api.control("add_contact", {"userid": "sh01_staff1", "state": "store:SH01"}).json())
        event = server.events[-1]
        assert event["ChangeType"] == "add_external_contact" and event["WelcomeCode"] == added["welcome_code"]
        assert event["State"] == "store:SH01" and event["ExternalUserID"] == added["external_userid"]
        follow = api.get("externalcontact/get", external_userid=added["external_userid"])["follow_user"][0]
        assert follow["state"] == "store:SH01" and follow["add_way"] == 1
        text = {"content": "欢迎来到南京西路店"}
        assert api.post("externalcontact/send_welcome_msg", {"welcome_code": added["welcome_code"]})["errcode"] == 40058
        ok(api.post("externalcontact/send_welcome_msg", {"welcome_code": added["welcome_code"], "text": text}))
        assert (
            api.post("externalcontact/send_welcome_msg", {"welcome_code": added["welcome_code"], "text": text})[
                "errcode"
            ]
            == 41051
        )
        late = ok(api.control("add_contact", {"userid": "sh01_staff2"}).json())
        server.corp.travel(21)
        assert (
            api.post("externalcontact/send_welcome_msg", {"welcome_code": late["welcome_code"], "text": text})[
                "errcode"
            ]
            == 41051
        )
        assert (
            api.post("externalcontact/send_welcome_msg", {"welcome_code": "made-up", "text": text})["errcode"] == 41051
        )
        assert api.http.get("/_fake/welcomes").json()["welcomes"][0]["text"] == "欢迎来到南京西路店"


def test_a_customer_scans_a_channel_code(server, api):
    way = {"type": 2, "scene": 2, "state": "store:SH02", "user": ["sh02_staff1"]}
    config_id = ok(api.post("externalcontact/add_contact_way", way))["config_id"]
    added = ok(api.control("add_contact", {"config_id": config_id}).json())
    assert added["userid"] == "sh02_staff1" and added["state"] == "store:SH02"
    follow = api.get("externalcontact/get", external_userid=added["external_userid"])["follow_user"][0]
    assert follow["state"] == "store:SH02" and follow["add_way"] == 1
    assert server.events[-1]["State"] == "store:SH02"
    assert api.control("add_contact", {"config_id": "nope"}).status_code == 400


# --- handover ---------------------------------------------------------------------------------
def test_transfer_customer_progresses_and_is_limited():
    with running_corp(
        staff=STAFF, contacts_per_staff=10, shared_ratio=0, transfer_delay=100, transfer_refused=0, transfer_full=0
    ) as server:
        api, corp = Api(server), server.corp
        mine = api.get("externalcontact/list", userid="sh01_staff1")["external_userid"]
        body = {
            "handover_userid": "sh01_staff1",
            "takeover_userid": "sh01_staff2",
            "external_userid": mine[:3] + ["wmbogus"],
        }
        answer = ok(api.post("externalcontact/transfer_customer", body))
        assert [c["errcode"] for c in answer["customer"]] == [0, 0, 0, 40096]
        result_body = {"handover_userid": "sh01_staff1", "takeover_userid": "sh01_staff2"}
        result = ok(api.post("externalcontact/transfer_result", result_body))
        assert [c["status"] for c in result["customer"]] == [2, 2, 2]
        again = ok(api.post("externalcontact/transfer_customer", body | {"external_userid": mine[:1]}))
        assert again["customer"][0]["errcode"] == 40129
        corp.travel(101)
        result = ok(api.post("externalcontact/transfer_result", result_body))
        assert [c["status"] for c in result["customer"]] == [1, 1, 1] and all(
            c["takeover_time"] for c in result["customer"]
        )
        followers = [f["userid"] for f in api.get("externalcontact/get", external_userid=mine[0])["follow_user"]]
        assert followers == ["sh01_staff2"]
        assert mine[0] in api.get("externalcontact/list", userid="sh01_staff2")["external_userid"]
        back = {"handover_userid": "sh01_staff2", "takeover_userid": "sh01_staff1", "external_userid": mine[:1]}
        assert ok(api.post("externalcontact/transfer_customer", back))["customer"][0]["errcode"] == 0
        corp.travel(101)
        third = ok(api.post("externalcontact/transfer_customer", body | {"external_userid": mine[:1]}))
        assert third["customer"][0]["errcode"] == 40128  # twice per customer in 90 days
        corp.travel(90 * 86400)
        api.token = api.gettoken()["access_token"]  # long past the token's 2 hours
        fourth = ok(api.post("externalcontact/transfer_customer", body | {"external_userid": mine[:1]}))
        assert fourth["customer"][0]["errcode"] == 0
        not_theirs = body | {
            "external_userid": api.get("externalcontact/list", userid="bj01_staff1")["external_userid"][:1]
        }
        assert ok(api.post("externalcontact/transfer_customer", not_theirs))["customer"][0]["errcode"] == 84061
        assert (
            api.post("externalcontact/transfer_customer", body | {"takeover_userid": "sh01_staff1"})["errcode"] == 40130
        )
        assert api.post("externalcontact/transfer_customer", body | {"external_userid": mine * 11})["errcode"] == 40058
        assert api.post("externalcontact/transfer_customer", body | {"takeover_userid": "nobody"})["errcode"] == 40003


def test_transfers_can_be_refused_or_hit_a_full_receiver_and_resigned_ones_have_their_own_results():
    with running_corp(
        staff=STAFF, contacts_per_staff=60, shared_ratio=0, transfer_delay=1, transfer_refused=0.3, transfer_full=0.3
    ) as server:
        api = Api(server)
        mine = api.get("externalcontact/list", userid="sh02_staff1")["external_userid"]
        body = {"handover_userid": "sh02_staff1", "takeover_userid": "bj01_staff1", "external_userid": mine[:60]}
        assert all(
            c["errcode"] == 0 for c in ok(api.post("externalcontact/resigned/transfer_customer", body))["customer"]
        )
        server.corp.travel(2)
        pair = {"handover_userid": "sh02_staff1", "takeover_userid": "bj01_staff1"}
        statuses = [c["status"] for c in ok(api.post("externalcontact/resigned/transfer_result", pair))["customer"]]
        assert len(statuses) == 60 and {1, 3, 4} <= set(statuses)
        assert ok(api.post("externalcontact/transfer_result", pair))["customer"] == []
        fails = [e for e in server.events if e["ChangeType"] == "transfer_fail"]
        assert len(fails) == statuses.count(3) + statuses.count(4)
        assert {e["FailReason"] for e in fails} == {"customer_refused", "customer_limit_exceed"}


# --- mass messages ------------------------------------------------------------------------------
def _send_results(api, msgid, userid):
    rows, cursor = [], ""
    while True:
        answer = ok(
            api.post(
                "externalcontact/get_groupmsg_send_result",
                {"msgid": msgid, "userid": userid, "limit": 4, "cursor": cursor},
            )
        )
        rows += answer["send_list"]
        cursor = answer["next_cursor"]
        if not cursor:
            return rows


def test_mass_message_validation(api):
    ext = api.get("externalcontact/list", userid="sh01_staff1")["external_userid"][:2]
    base = {"external_userid": ext, "text": {"content": "周末亲子活动"}}
    assert api.post("externalcontact/add_msg_template", {"external_userid": ext})["errcode"] == 40058
    assert api.post("externalcontact/add_msg_template", base | {"text": {"content": "字" * 1334}})["errcode"] == 40058
    ok(api.post("externalcontact/add_msg_template", base | {"text": {"content": "字" * 1333}}))  # 3,999 bytes
    attachments = [{"msgtype": "link", "link": {"title": "t", "url": "https://example.com"}}] * 10
    assert api.post("externalcontact/add_msg_template", base | {"attachments": attachments})["errcode"] == 40058
    assert api.post("externalcontact/add_msg_template", base | {"external_userid": ext * 5001})["errcode"] == 40058
    assert api.post("externalcontact/add_msg_template", base | {"chat_type": "group"})["errcode"] == 40058
    answer = ok(api.post("externalcontact/add_msg_template", base | {"external_userid": ext + ["wmnotreal"]}))
    assert answer["fail_list"] == ["wmnotreal"] and answer["msgid"]


def test_mass_message_confirmation_and_results():
    kwargs = {
        "staff": STAFF,
        "contacts_per_staff": 12,
        "shared_ratio": 0,
        "confirm_delay": 50,
        "confirm_share": 1.0,
        "daily_cap": 1,
    }
    with running_corp(**kwargs) as server:
        api, corp = Api(server), server.corp
        ext = api.get("externalcontact/list", userid="sh01_staff1")["external_userid"]
        others = api.get("externalcontact/list", userid="sh02_staff1")["external_userid"][:3]
        gone = ext[0]
        first = ok(
            api.post(
                "externalcontact/add_msg_template", {"external_userid": ext + others, "text": {"content": "新品到店"}}
            )
        )
        msgid = first["msgid"]
        tasks = ok(api.post("externalcontact/get_groupmsg_task", {"msgid": msgid}))["task_list"]
        assert {(t["userid"], t["status"]) for t in tasks} == {("sh01_staff1", 0), ("sh02_staff1", 0)}
        assert {r["status"] for r in _send_results(api, msgid, "sh01_staff1")} == {0}
        ok(api.control("delete", {"external_userid": gone, "userid": "sh01_staff1", "by": "customer"}).json())
        corp.travel(51)
        tasks = ok(api.post("externalcontact/get_groupmsg_task", {"msgid": msgid}))["task_list"]
        assert all(t["status"] == 2 and t["send_time"] for t in tasks)
        rows = _send_results(api, msgid, "sh01_staff1")
        assert len(rows) == len(ext) and {r["external_userid"] for r in rows} == set(ext)
        by_id = {r["external_userid"]: r for r in rows}
        assert by_id[gone]["status"] == 2 and "send_time" not in by_id[gone]
        assert all(by_id[e]["status"] == 1 and by_id[e]["send_time"] for e in ext[1:])
        # A second mass message the same day: over the per-customer cap, status 3.
        second = ok(
            api.post("externalcontact/add_msg_template", {"external_userid": ext[1:3], "text": {"content": "再提醒"}})
        )
        corp.travel(51)
        assert {r["status"] for r in _send_results(api, second["msgid"], "sh01_staff1")} == {3}
        now = int(corp.now())
        listed = ok(
            api.post(
                "externalcontact/get_groupmsg_list_v2",
                {"chat_type": "single", "start_time": now - 86400, "end_time": now, "limit": 1},
            )
        )
        assert len(listed["group_msg_list"]) == 1 and listed["next_cursor"]
        assert listed["group_msg_list"][0]["create_type"] == 0 and "creator" not in listed["group_msg_list"][0]
        too_long = {"chat_type": "single", "start_time": now - 40 * 86400, "end_time": now}
        assert api.post("externalcontact/get_groupmsg_list_v2", too_long)["errcode"] == 40058
        assert api.post("externalcontact/get_groupmsg_task", {"msgid": "nope"})["errcode"] == 40058


def test_some_staff_ignore_and_cancel_and_remind():
    kwargs = {"staff_count": 40, "contacts_per_staff": 2, "shared_ratio": 0, "confirm_delay": 10, "confirm_share": 0.5}
    with running_corp(**kwargs) as server:
        api, corp = Api(server), server.corp
        msgid = ok(api.post("externalcontact/add_msg_template", {"text": {"content": "会员日"}}))["msgid"]
        corp.travel(11)
        statuses = [
            t["status"]
            for t in ok(api.post("externalcontact/get_groupmsg_task", {"msgid": msgid, "limit": 1000}))["task_list"]
        ]
        assert len(statuses) == 40 and 8 < statuses.count(2) < 32 and statuses.count(0) == 40 - statuses.count(2)
        for _ in range(3):
            ok(api.post("externalcontact/remind_groupmsg_send", {"msgid": msgid}))
        assert api.post("externalcontact/remind_groupmsg_send", {"msgid": msgid})["errcode"] == 41063
        corp.travel(86401)
        api.token = api.gettoken()["access_token"]
        ok(api.post("externalcontact/remind_groupmsg_send", {"msgid": msgid}))
        cancelled = ok(api.post("externalcontact/add_msg_template", {"text": {"content": "取消"}}))["msgid"]
        ok(api.post("externalcontact/cancel_groupmsg_send", {"msgid": cancelled}))
        corp.travel(11)
        tasks = ok(api.post("externalcontact/get_groupmsg_task", {"msgid": cancelled, "limit": 1000}))["task_list"]
        assert {t["status"] for t in tasks} == {0}


# --- limits ---------------------------------------------------------------------------------------
def test_rate_limit_45009_then_recovery(server, api):
    assert ok(api.control("limits", {"per_minute": 3}).json())["per_minute"] == 3
    corp = server.corp
    corp.travel(60 - corp.now() % 60 + 0.01)  # start of a minute
    answers = [api.get("externalcontact/get_follow_user_list")["errcode"] for _ in range(5)]
    assert answers == [0, 0, 0, 45009, 45009]
    ok(api.get("externalcontact/list", userid="sh01_staff1"))  # each API has its own budget
    corp.travel(30)
    assert api.get("externalcontact/get_follow_user_list")["errcode"] == 45009  # for the rest of the minute
    corp.travel(30)
    ok(api.get("externalcontact/get_follow_user_list"))
    ok(api.control("limits", {"per_minute": None, "per_hour": 5}).json())
    corp.travel(3600 - corp.now() % 3600 + 0.01)  # start of an hour
    answers = [api.get("externalcontact/get_follow_user_list")["errcode"] for _ in range(7)]
    assert answers == [0] * 5 + [45009] * 2
    corp.travel(1800)
    assert api.get("externalcontact/get_follow_user_list")["errcode"] == 45009  # an hour block lasts the hour
    corp.travel(1800)
    api.token = api.gettoken()["access_token"]
    ok(api.get("externalcontact/get_follow_user_list"))
    assert server.calls("externalcontact/get_follow_user_list") == 5 + 1 + 1 + 7 + 1 + 1
    assert api.http.get("/_fake/state").json()["calls"]["externalcontact/list"] == 1
    ok(api.control("limits", {"off": True}).json())
    assert all(api.get("externalcontact/get_follow_user_list")["errcode"] == 0 for _ in range(10))
    assert api.http.get("/_fake/state").json()["limits"] is None


def test_concurrency_limit_45033():
    with running_corp(staff=STAFF, contacts_per_staff=2, limits={"concurrency": 2, "latency": 0.3}) as server:
        api = Api(server)
        codes, lock = [], threading.Lock()

        def call():
            with httpx.Client(base_url=server.url, timeout=10) as http:
                code = http.get(
                    "/cgi-bin/externalcontact/get_follow_user_list", params={"access_token": api.token}
                ).json()["errcode"]
            with lock:
                codes.append(code)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert codes.count(45033) >= 2 and codes.count(0) >= 2
        server.set_limits(None)
        assert api.get("externalcontact/get_follow_user_list")["errcode"] == 0


def test_ten_million_contacts_are_lazy():
    tracemalloc.start()
    try:
        started = time.perf_counter()
        corp = FakeCorp(seed=7, staff_count=5000, contacts_per_staff=2000)
        page = corp.batch_get_by_user(userid_list=["staff2500"], limit=100)
        detail = corp.get_contact(corp.external_userid(9_999_999))
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert corp.contact_count() == 10_000_000
    assert len(page["external_contact_list"]) == 100 and page["next_cursor"]
    assert detail["follow_user"][0]["userid"] == "staff5000"
    assert peak < 20 * 1024 * 1024, peak
    assert elapsed < 3, elapsed
    with running_corp(seed=7, staff_count=5000, contacts_per_staff=2000, limits=None) as server:
        api = Api(server)
        started = time.perf_counter()
        answer = ok(
            api.post("externalcontact/batch/get_by_user", {"userid_list": ["staff0001", "staff4999"], "limit": 100})
        )
        assert len(answer["external_contact_list"]) == 100 and time.perf_counter() - started < 2
        assert api.http.get("/_fake/state").json()["contacts"] == 10_000_000


# --- callbacks ------------------------------------------------------------------------------------
class Receiver:
    """A tiny callback endpoint: decrypts with wechatpy, answers 500 for the first ``fail`` posts."""

    def __init__(self, fail: int = 0):
        self.oracle = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)
        self.fail = fail
        self.posts = 0
        self.events: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                plain = receiver.oracle.check_signature(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
                self._answer(200, plain.encode())

            def do_POST(self):
                q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts += 1
                if receiver.posts <= receiver.fail:
                    self._answer(500, b"busy")
                    return
                plain = receiver.oracle.decrypt_message(body.decode(), q["msg_signature"], q["timestamp"], q["nonce"])
                receiver.events.append(parse_xml(plain))
                self._answer(200, b"success")

            def _answer(self, status, data):
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/wecom/callback/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(fail=0):
        made.append(Receiver(fail))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_callbacks_are_encrypted_events_that_wechatpy_decrypts(receiver):
    rx = receiver()
    with running_corp(staff=STAFF, contacts_per_staff=3, callback_url=rx.url) as server:
        api = Api(server)
        added = ok(api.control("add_contact", {"userid": "sh01_staff1", "state": "store:SH01"}).json())
        ok(
            api.control(
                "edit",
                {"external_userid": added["external_userid"], "userid": "sh01_staff1", "remark": "王女士 二胎妈妈"},
            ).json()
        )
        ok(
            api.control(
                "delete", {"external_userid": added["external_userid"], "userid": "sh01_staff1", "by": "staff"}
            ).json()
        )
        assert server.wait_callbacks(10)
        assert server.verify_url("echo-123") == (200, "echo-123")
        assert ok(api.control("verify_url", {"echo": "hello"}).json())["body"] == "hello"
    add, edit, delete = rx.events
    assert add["ToUserName"] == CORP_ID and add["FromUserName"] == "sys" and add["MsgType"] == "event"
    assert add["Event"] == "change_external_contact" and add["ChangeType"] == "add_external_contact"
    assert add["UserID"] == "sh01_staff1" and add["ExternalUserID"] == added["external_userid"]
    assert add["State"] == "store:SH01" and add["WelcomeCode"] == added["welcome_code"] and add["CreateTime"].isdigit()
    assert edit["ChangeType"] == "edit_external_contact"
    assert delete["ChangeType"] == "del_external_contact"


def test_callbacks_are_retried_when_the_receiver_fails(receiver):
    flaky = receiver(fail=2)
    with running_corp(staff=STAFF, contacts_per_staff=3, callback_url=flaky.url, callback_retry_delay=0.05) as server:
        server.corp.add_contact(userid="sh01_staff2")
        assert server.wait_callbacks(10)
        assert server.callbacks.delivered[0]["attempts"] == 3 and flaky.posts == 3 and len(flaky.events) == 1
    down = receiver(fail=100)
    with running_corp(staff=STAFF, contacts_per_staff=3, callback_url=down.url, callback_retry_delay=0.05) as server:
        server.corp.add_contact(userid="sh01_staff2")
        assert server.wait_callbacks(10)
        assert down.posts == 4 and server.callbacks.failed[0]["attempts"] == 4  # the first try and 3 retries
        state = httpx.get(f"{server.url}/_fake/state").json()["callbacks"]
        assert state["failed"] == 1 and state["delivered"] == 0


def test_advance_changes_the_expected_share(receiver):
    rx = receiver()
    with running_corp(staff=STAFF, contacts_per_staff=250, callback_url=rx.url) as server:
        api = Api(server)
        before = server.corp.contact_count()
        counts = ok(api.control("advance", {"changes": 0.05, "seed": 11}).json())
        total = counts["added"] + counts["edited"] + counts["deleted"]
        assert total == round(before * 0.05) == 50
        assert 10 < counts["added"] < 30 and 10 < counts["edited"] < 30 and 3 < counts["deleted"] < 20
        assert server.corp.contact_count() == before + counts["added"]
        assert server.wait_callbacks(10)
        kinds = [e["ChangeType"] for e in rx.events]
        assert kinds.count("add_external_contact") == counts["added"]
        assert kinds.count("edit_external_contact") == counts["edited"]
        assert kinds.count("del_follow_user") + kinds.count("del_external_contact") == counts["deleted"]
        now_count = server.corp.contact_count()
        quiet = ok(api.control("advance", {"changes": 0.01, "callbacks": False}).json())
        assert sum(quiet[k] for k in ("added", "edited", "deleted")) == round(now_count * 0.01)
        assert server.wait_callbacks(10) and len(rx.events) == total


@pytest.mark.parametrize("corp", [
    {"staff": ["carol", "dave"], "contacts_per_staff": 5},  # userids naming no demo store: no store tags
    {"staff_count": 3, "contacts_per_staff": 2},
    {"staff": ["carol"], "contacts_per_staff": 5, "restricted": ["carol"]},
    {"staff": ["carol"], "contacts_per_staff": 0},  # no contacts at all: nothing to change
], ids=["non-demo-staff", "numbered-staff", "restricted-only", "no-contacts"])
def test_advance_works_for_a_corp_whose_staff_are_not_the_demos(corp):
    with running_corp(**corp) as server:
        api = Api(server)
        edited = 0
        for seed in range(15):  # enough days that every kind of change comes up
            answer = api.control("advance", {"changes": 0.3, "seed": seed})
            assert answer.status_code == 200, answer.text
            counts = ok(answer.json())
            edited += counts["edited"]
        if corp["contacts_per_staff"]:
            assert edited > 0
            tags = {t for (i, u), e in server.corp._follow_edits.items() for t in e.get("tags", [])}
            assert tags and tags <= set(server.corp.tag_index)
        else:
            assert (counts["added"], counts["edited"], counts["deleted"]) == (0, 0, 0)
            assert server.corp.contact_count() == 0


def test_control_endpoint_errors(server, api):
    assert api.control("delete", {"external_userid": "wmnope", "userid": "sh01_staff1"}).status_code == 400
    assert api.control("add_contact", {"userid": "nobody"}).json()["errcode"] == 40003
    assert api.control("nothing").status_code == 404
    assert api.http.post("/_fake/state").status_code == 405
    state = api.http.get("/_fake/state").json()
    assert state["staff"] == len(STAFF) and state["contacts"] == len(STAFF) * 30


def test_the_wecom_server_command_serves_and_prints_generated_credentials():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECOM_")} | {"WECOM_CORP_ID": "wwfromenv0001"}
    command = [sys.executable, "manage.py", "wecom_server", "--port", "0", "--staff", "sh01_staff1,sh01_staff2"]
    process = subprocess.Popen(
        command + ["--contacts-per-staff", "4"], cwd=root, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line.strip())
            if line.startswith("WeCom server at"):
                break
        printed = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("WeCom"))
        assert set(printed) == {"WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY"}  # the corp id came from the environment
        assert len(printed["WECOM_AES_KEY"]) == 43
        url = lines[-1].split(" ")[3].removesuffix("/cgi-bin/")
        state = httpx.get(f"{url}/_fake/state").json()
        assert state["corp_id"] == "wwfromenv0001" and state["staff"] == 2 and state["contacts"] == 8
        token = httpx.get(
            f"{url}/cgi-bin/gettoken", params={"corpid": "wwfromenv0001", "corpsecret": printed["WECOM_SECRET"]}
        )
        assert token.json()["errcode"] == 0
    finally:
        process.terminate()
        process.wait(10)
