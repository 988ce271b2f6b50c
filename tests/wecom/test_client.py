"""The WeCom client against the local WeCom server: the shared token (cached, refreshed once under
concurrency, refreshed transparently when WeCom expires it), error kinds, cursor pages, call logs
without personal data, and health kept without a write per call."""

from __future__ import annotations

import logging
import socket
import threading

import httpx
import pytest
from django.db import connection as db_connection

from wecom.client import errors, get_client
from wecom.models import ConnectionState

pytestmark = pytest.mark.django_db


def fake_state(server) -> dict:
    return httpx.get(f"{server.url}/_fake/state").json()


def gettokens(server) -> int:
    """Tokens the server issued: one per gettoken (expired ones are kept, and counted)."""
    return fake_state(server)["tokens"]


def expire_tokens(server) -> None:
    assert httpx.post(f"{server.url}/_fake/expire_tokens").status_code == 200


def test_the_token_is_fetched_once_and_reused(corp):
    client = get_client()
    assert client is get_client()
    first = client.get("externalcontact/get_follow_user_list")
    assert first["errcode"] == 0 and first["follow_user"]
    for _ in range(5):
        client.get("externalcontact/get_follow_user_list")
    assert gettokens(corp) == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_threads_on_an_expired_token_make_one_gettoken(corp):
    client = get_client()
    client.get("externalcontact/get_follow_user_list")
    assert gettokens(corp) == 1
    expire_tokens(corp)
    barrier = threading.Barrier(20)
    answers, failures = [], []

    def call():
        try:
            barrier.wait()
            answers.append(client.get("externalcontact/get_follow_user_list"))
        except Exception as exc:  # collected and asserted below
            failures.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures
    assert len(answers) == 20 and all(a["errcode"] == 0 for a in answers)
    assert gettokens(corp) == 2


def test_a_token_expired_mid_run_is_refreshed_transparently(corp):
    client = get_client()
    staff = client.get("externalcontact/get_follow_user_list")["follow_user"]
    pages = client.pages("externalcontact/batch/get_by_user", {"userid_list": staff[:1], "cursor": "", "limit": 1})
    first = next(pages)
    assert first["next_cursor"]
    expire_tokens(corp)
    rest = list(pages)
    assert rest and all(page["errcode"] == 0 for page in rest)
    assert gettokens(corp) == 2


def test_a_token_dropped_by_one_caller_does_not_delete_a_fresher_one(corp):
    client = get_client()
    client.get("externalcontact/get_follow_user_list")
    old = client.tokens.cached()
    assert client.tokens.drop(old) is True
    fresh = client.tokens.get()
    assert fresh != old
    assert client.tokens.drop(old) is False  # a late caller with the old token
    assert client.tokens.cached() == fresh


def test_pages_follow_the_cursor_to_the_end_and_stop_at_the_cap(corp):
    client = get_client()
    userid = client.get("externalcontact/get_follow_user_list")["follow_user"][0]
    ids = client.get("externalcontact/list", params={"userid": userid})["external_userid"]
    assert len(ids) >= 3
    body = {"userid_list": [userid], "cursor": "", "limit": 2}
    pages = list(client.pages("externalcontact/batch/get_by_user", body))
    seen = [c["external_contact"]["external_userid"] for p in pages for c in p["external_contact_list"]]
    assert sorted(seen) == sorted(ids)
    assert len(pages) == -(-len(ids) // 2)
    assert not pages[-1].get("next_cursor")
    capped = list(client.pages("externalcontact/batch/get_by_user", body, max_pages=1))
    assert len(capped) == 1 and capped[0]["next_cursor"]
    assert body["cursor"] == ""  # the caller's body is not changed


def test_calls_are_logged_with_path_errcode_and_time_but_no_personal_data(corp, caplog):
    client = get_client()
    userid = client.get("externalcontact/get_follow_user_list")["follow_user"][0]
    external_userid = client.get("externalcontact/list", params={"userid": userid})["external_userid"][0]
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        answer = client.get("externalcontact/get", params={"external_userid": external_userid})
    contact = answer["external_contact"]
    personal = [contact["name"]]
    for follow in answer["follow_user"]:
        personal += [follow.get("remark"), follow.get("description"), *(follow.get("remark_mobiles") or [])]
    personal = [value for value in personal if value]
    assert personal
    lines = [record.getMessage() for record in caplog.records]
    mine = [line for line in lines if "externalcontact/get " in line]
    assert len(mine) == 1 and "errcode=0" in mine[0] and "elapsed_ms=" in mine[0]
    text = "\n".join(lines)
    for value in personal + [external_userid, client.tokens.cached(), corp_secret()]:
        assert value not in text


def corp_secret():
    from django.conf import settings

    return settings.WECOM_SECRET


def test_health_is_written_without_a_query_per_call(corp, django_assert_max_num_queries):
    client = get_client()
    client.get("externalcontact/get_follow_user_list")
    with django_assert_max_num_queries(0):
        for _ in range(10):
            client.get("externalcontact/get_follow_user_list")
    state = ConnectionState.objects.get()
    assert state.mode == "local" and state.token_fetched_at and state.last_ok_at


# --- error kinds ---------------------------------------------------------------------------


def test_a_wrong_secret_is_credentials_rejected(corp, settings):
    settings.WECOM_SECRET = "wrong"
    with pytest.raises(errors.CredentialsRejected) as caught:
        get_client().get("externalcontact/get_follow_user_list")
    assert caught.value.errcode == 40001 and caught.value.path == "gettoken"
    assert not caught.value.retryable
    assert ConnectionState.objects.get().last_errcode == 40001


def test_an_unknown_contact_is_an_invalid_request_not_retried(corp):
    client = get_client()
    with pytest.raises(errors.WecomError) as caught:
        client.get("externalcontact/get", params={"external_userid": "wmNOBODY"})
    assert type(caught.value) in (errors.InvalidRequest, errors.NotAContact, errors.PermissionDenied)
    assert caught.value.errcode not in (0, None) and not caught.value.retryable
    assert caught.value.path == "externalcontact/get"


def test_wecoms_frequency_limit_is_rate_limited_and_pauses_every_caller(corp, settings):
    client = get_client()
    client.get("externalcontact/get_follow_user_list")
    assert httpx.post(f"{corp.url}/_fake/limits", json={"per_minute": 1}).status_code == 200
    with pytest.raises(errors.RateLimited) as caught:
        for _ in range(3):
            client.get("externalcontact/get_follow_user_list")
    assert caught.value.errcode in (45009, 45033) and caught.value.retry_after > 0
    state = ConnectionState.objects.get()
    assert state.rate_limited_until is not None and state.last_errcode == caught.value.errcode
    # Paused for every caller: the next one is refused here (errcode None) without asking WeCom.
    with pytest.raises(errors.RateLimited) as again:
        client.get("externalcontact/get_follow_user_list")
    assert again.value.errcode is None and again.value.retry_after > 2


def test_a_server_that_is_down_is_unavailable(make_corp):
    server = make_corp()
    server.stop()
    with pytest.raises(errors.Unavailable) as caught:
        get_client().get("externalcontact/get_follow_user_list")
    assert caught.value.retryable


def test_a_server_that_never_answers_times_out(settings, corp):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections into the backlog and never answers
    try:
        settings.WECOM_API_BASE = f"http://127.0.0.1:{listener.getsockname()[1]}"
        settings.WECOM_TIMEOUT_SECONDS = 1
        with pytest.raises(errors.Unavailable, match="timed out"):
            get_client().get("externalcontact/get_follow_user_list")
    finally:
        listener.close()


def test_an_http_error_status_is_unavailable(corp, settings):
    settings.WECOM_API_BASE = f"{corp.url}/no-such-prefix"
    with pytest.raises(errors.Unavailable, match="HTTP"):
        get_client().get("externalcontact/get_follow_user_list")


def test_error_codes_map_to_kinds():
    assert isinstance(errors.from_answer(45009, "", "p"), errors.RateLimited)
    assert isinstance(errors.from_answer(45033, "", "p"), errors.RateLimited)
    assert isinstance(errors.from_answer(-1, "", "p"), errors.Unavailable)
    assert isinstance(errors.from_answer(40013, "", "p"), errors.CredentialsRejected)
    assert isinstance(errors.from_answer(42001, "", "p"), errors.CredentialsRejected)
    assert isinstance(errors.from_answer(60011, "", "p"), errors.PermissionDenied)
    assert isinstance(errors.from_answer(84061, "", "p"), errors.NotAContact)
    assert isinstance(errors.from_answer(41051, "", "p"), errors.WelcomeCodeUsed)
    assert isinstance(errors.from_answer(40096, "", "p"), errors.InvalidRequest)
    assert errors.RateLimited(45009).retryable and errors.Unavailable(-1).retryable
    assert not errors.InvalidRequest(40096).retryable


def test_nothing_configured_is_not_configured(no_wecom):
    with pytest.raises(errors.NotConfigured):
        get_client()


def test_without_redis_a_call_is_unavailable(corp, settings):
    import redis

    from wecom.client.http import Client

    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there
    client = Client(
        api_base=settings.WECOM_API_BASE,
        corp_id=settings.WECOM_CORP_ID,
        secret=settings.WECOM_SECRET,
        redis_client=redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1),
    )
    with pytest.raises(errors.Unavailable, match="Redis"):
        client.get("externalcontact/get_follow_user_list")
    assert gettokens(corp) == 0
