"""The encrypted callback endpoint /wecom/callback/: URL check, signature, freshness and replay
checks, safe XML, the size cap, storing each message once however often WeCom delivers it, and
answering fast with no worker running. Requests are built with wecom.crypto.CallbackCrypto, and
the local WeCom server (wecom.fake) sends real callbacks to a live server."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

import httpx
import pytest
from django.urls import reverse
from wechatpy.enterprise.crypto import WeChatCrypto

from tests.wecom import fake
from wecom.crypto import CallbackCrypto, new_nonce, parse_xml
from wecom.fake.callbacks import event_xml
from wecom.models import CallbackEvent, ConnectionState, EventStatus
from wecom.services import callbacks as receiver
from wecom.services import events

URL = "/wecom/callback/"


@pytest.fixture
def configured(settings):
    settings.WECOM_CORP_ID = fake.CORP_ID
    settings.WECOM_TOKEN = fake.TOKEN
    settings.WECOM_AES_KEY = fake.AES_KEY
    return CallbackCrypto(token=fake.TOKEN, aes_key=fake.AES_KEY, corp_id=fake.CORP_ID)


def _event(**fields) -> str:
    return event_xml(fake.CORP_ID, {"Event": "change_external_contact", "ChangeType": "add_external_contact",
                                    "UserID": "sh01_staff1", "ExternalUserID": "wmEXT001", "CreateTime": "1764640000",
                                    **fields})


def _signed_post(crypto: CallbackCrypto, plaintext: str, *, timestamp: str | None = None, nonce: str | None = None):
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or new_nonce()
    body = crypto.encrypt_message(plaintext, timestamp=timestamp, nonce=nonce)
    signature = crypto.signature(timestamp, nonce, parse_xml(body)["Encrypt"])
    return f"{URL}?{urlencode({'msg_signature': signature, 'timestamp': timestamp, 'nonce': nonce})}", body


def _post(client, crypto, plaintext, **kwargs):
    url, body = _signed_post(crypto, plaintext, **kwargs)
    return client.post(url, data=body, content_type="text/xml")


# --- URL verification ---------------------------------------------------------------------------


def test_url_verification_answers_the_plaintext_echostr_without_the_database(client, configured):
    # No django_db mark: pytest-django makes any query here raise, so the check reads no database.
    timestamp, nonce = str(int(time.time())), new_nonce()
    echostr = configured.encrypt("echo-1234567890")
    signature = configured.signature(timestamp, nonce, echostr)
    started = time.monotonic()
    answer = client.get(URL, {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": echostr})
    elapsed = time.monotonic() - started
    assert answer.status_code == 200 and answer.content == b"echo-1234567890"
    assert answer["Content-Type"].startswith("text/plain")
    assert elapsed < 1.0
    assert reverse("wecom-callback") == URL


def test_url_verification_made_by_wechatpy_passes(client, configured):
    oracle = WeChatCrypto(fake.TOKEN, fake.AES_KEY, fake.CORP_ID)
    timestamp, nonce = str(int(time.time())), "n0nce"
    echostr = configured.encrypt("from-wechatpy")
    assert oracle.check_signature(configured.signature(timestamp, nonce, echostr), timestamp, nonce, echostr)
    answer = client.get(URL, {"msg_signature": configured.signature(timestamp, nonce, echostr),
                              "timestamp": timestamp, "nonce": nonce, "echostr": echostr})
    assert answer.content == b"from-wechatpy"


@pytest.mark.parametrize("change", ["signature", "timestamp", "missing"])
def test_url_verification_refuses_a_bad_request(client, configured, change, caplog):
    timestamp, nonce = str(int(time.time())), new_nonce()
    echostr = configured.encrypt("plain-XYZ")
    params = {"msg_signature": configured.signature(timestamp, nonce, echostr), "timestamp": timestamp,
              "nonce": nonce, "echostr": echostr}
    if change == "signature":
        params["msg_signature"] = "0" * 40
    elif change == "timestamp":
        old = str(int(time.time()) - 3600)
        params.update(timestamp=old, msg_signature=configured.signature(old, nonce, echostr))
    else:
        del params["echostr"]
    with caplog.at_level(logging.WARNING, logger="wecom.views.callbacks"):
        answer = client.get(URL, params)
    assert answer.status_code == 403 and answer.content == b"refused"
    assert "plain-XYZ" not in caplog.text and echostr not in caplog.text
    assert any(r.levelno == logging.WARNING and r.name == "wecom.views.callbacks" for r in caplog.records)


def test_not_configured_answers_503(client, settings):
    settings.WECOM_TOKEN = settings.WECOM_AES_KEY = settings.WECOM_CORP_ID = ""
    answer = client.get(URL, {"msg_signature": "x", "timestamp": str(int(time.time())), "nonce": "n",
                              "echostr": "e"})
    assert answer.status_code == 503


# --- events -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_event_delivered_four_times_is_stored_once(client, configured, django_capture_on_commit_callbacks):
    plaintext = _event()
    with django_capture_on_commit_callbacks() as queued:
        answers = [_post(client, configured, plaintext) for _ in range(4)]  # WeCom's first try and 3 retries
    assert [(a.status_code, a.content) for a in answers] == [(200, b"success")] * 4
    event = CallbackEvent.objects.get()
    assert event.status == EventStatus.PENDING and event.event == "change_external_contact"
    assert event.change_type == "add_external_contact" and event.payload["ExternalUserID"] == "wmEXT001"
    assert len(queued) == 1  # processing queued once, on commit
    assert ConnectionState.objects.get().last_callback_at is not None


@pytest.mark.django_db
def test_an_event_encrypted_by_wechatpy_is_accepted(client, configured):
    oracle = WeChatCrypto(fake.TOKEN, fake.AES_KEY, fake.CORP_ID)
    timestamp, nonce = str(int(time.time())), "wechatpy1"
    body = oracle.encrypt_message(_event(ExternalUserID="wmORACLE"), nonce, timestamp)

    envelope = parse_xml(body)
    url = f"{URL}?{urlencode({'msg_signature': envelope['MsgSignature'], 'timestamp': timestamp, 'nonce': nonce})}"
    assert client.post(url, data=body, content_type="text/xml").content == b"success"
    assert CallbackEvent.objects.get().payload["ExternalUserID"] == "wmORACLE"


@pytest.mark.django_db
def test_a_wrong_signature_is_refused_and_logged_without_the_body(client, configured, caplog):
    url, body = _signed_post(configured, _event(ExternalUserID="wmSECRET"))
    url = url.replace("msg_signature=", "msg_signature=0")
    with caplog.at_level(logging.WARNING, logger="wecom.views.callbacks"):
        answer = client.post(url, data=body, content_type="text/xml")
    assert answer.status_code == 403 and answer.content == b"refused"
    assert not CallbackEvent.objects.exists()
    assert "signature" in caplog.text and "wmSECRET" not in caplog.text and body.decode() not in caplog.text


@pytest.mark.django_db
def test_a_body_signed_with_another_token_is_refused(client, configured):
    other = CallbackCrypto(token="another-token", aes_key=fake.AES_KEY, corp_id=fake.CORP_ID)
    assert _post(client, other, _event()).status_code == 403
    assert not CallbackEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("offset", [-receiver.WINDOW_SECONDS - 5, receiver.WINDOW_SECONDS + 5])
def test_a_timestamp_outside_the_window_is_refused(client, configured, offset):
    answer = _post(client, configured, _event(), timestamp=str(int(time.time()) + offset))
    assert answer.status_code == 403
    assert not CallbackEvent.objects.exists()


@pytest.mark.django_db
def test_a_replayed_request_is_refused(client, configured):
    url, body = _signed_post(configured, _event())
    assert client.post(url, data=body, content_type="text/xml").status_code == 200
    replay = client.post(url, data=body, content_type="text/xml")
    assert replay.status_code == 403 and replay.content == b"refused"
    assert CallbackEvent.objects.count() == 1


@pytest.mark.django_db
def test_an_unsigned_request_does_not_burn_its_nonce(client, configured):
    url, body = _signed_post(configured, _event())
    forged = url.replace("msg_signature=", "msg_signature=f")
    assert client.post(forged, data=body, content_type="text/xml").status_code == 403
    assert client.post(url, data=body, content_type="text/xml").status_code == 200


@pytest.mark.django_db
def test_a_doctype_in_the_envelope_is_refused(client, configured):
    timestamp, nonce = str(int(time.time())), new_nonce()
    encrypted = configured.encrypt(_event())
    body = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY big "aaaaaaaaaaaaaaaa">]>'
        f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt><Extra>&big;</Extra></xml>"
    ).encode()
    url = f"{URL}?{urlencode({'msg_signature': configured.signature(timestamp, nonce, encrypted), 'timestamp': timestamp, 'nonce': nonce})}"  # noqa: E501
    answer = client.post(url, data=body, content_type="text/xml")
    assert answer.status_code == 400
    assert not CallbackEvent.objects.exists()


@pytest.mark.django_db
def test_a_signed_message_with_a_doctype_inside_is_stored_ignored(client, configured):
    inner = '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Event>&e;</Event></xml>'
    answer = _post(client, configured, inner)
    assert answer.status_code == 200 and answer.content == b"success"
    event = CallbackEvent.objects.get()
    assert event.status == EventStatus.IGNORED and event.error.startswith(events.UNPARSEABLE)
    assert event.payload == {} and event.processed_at is not None
    assert "root:" not in event.error


@pytest.mark.django_db
def test_signed_but_undecryptable_is_stored_ignored(client, configured):
    other_corp = CallbackCrypto(token=fake.TOKEN, aes_key=fake.AES_KEY, corp_id="wwanothercorp")
    answer = _post(client, other_corp, _event())  # signed with our token, encrypted for another corp id
    assert answer.status_code == 200
    event = CallbackEvent.objects.get()
    assert event.status == EventStatus.IGNORED and "corp id" in event.error


@pytest.mark.django_db
def test_an_oversized_body_is_refused_with_413(client, configured):
    answer = _post(client, configured, _event(Padding="x" * receiver.BODY_MAX))
    assert answer.status_code == 413
    assert not CallbackEvent.objects.exists()


@pytest.mark.django_db
def test_an_unknown_event_type_is_stored_and_ignored_never_a_500(client, configured):
    answer = _post(client, configured, _event(Event="change_unheard_of", ChangeType="something"))
    assert answer.status_code == 200
    event = CallbackEvent.objects.get()
    assert event.status == EventStatus.PENDING
    assert events.process_event(event.pk) == EventStatus.IGNORED
    event.refresh_from_db()
    assert event.error == events.NO_HANDLER


@pytest.mark.django_db
def test_a_message_without_event_fields_is_stored_and_ignored(client, configured):
    assert _post(client, configured, "<xml><MsgType>text</MsgType><Content>hi</Content></xml>").status_code == 200
    event = CallbackEvent.objects.get()
    assert event.event == "" and events.process_event(event.pk) == EventStatus.IGNORED


@pytest.mark.django_db
def test_other_methods_are_refused(client, configured):
    assert client.put(URL).status_code == 405


# --- over HTTP, from the local WeCom server -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_local_server_verifies_and_delivers_to_a_live_endpoint_fast_with_no_worker(
    live_server, make_corp, settings
):
    server = make_corp(callback_url=f"{live_server.url}{URL}", callback_timeout=1.0, staff=["sh01_staff1"],
                       contacts_per_staff=2)
    status, body = server.verify_url("verify-me")
    assert (status, body) == (200, "verify-me")

    server.corp.add_contact(userid="sh01_staff1", state="store:SH01")
    server.corp.tag_event(change_type="create", name="VIP")
    assert server.wait_callbacks(20)
    assert server.callbacks.failed == []
    # Answered within the sender's 1 s timeout at the first attempt: WeCom would not have retried.
    assert [d["attempts"] for d in server.callbacks.delivered] == [1, 1]
    stored = list(CallbackEvent.objects.order_by("id").values_list("event", "change_type", "status"))
    assert stored == [("change_external_contact", "add_external_contact", "pending"),
                      ("change_external_tag", "create", "pending")]  # no worker: still pending

    # Measured: a signed event straight at the endpoint, a few times.
    crypto = CallbackCrypto(token=server.token, aes_key=server.aes_key, corp_id=server.corp_id)
    timings = []
    with httpx.Client(base_url=live_server.url, timeout=5) as http:
        for n in range(5):
            url, data = _signed_post(crypto, _event(ExternalUserID=f"wmTIMED{n}"))
            started = time.monotonic()
            answer = http.post(url, content=data, headers={"Content-Type": "text/xml"})
            timings.append(time.monotonic() - started)
            assert answer.status_code == 200 and answer.text == "success"
    assert max(timings) < 1.0, timings
    assert CallbackEvent.objects.filter(status=EventStatus.PENDING).count() == 7


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_processes_the_event_queued_on_commit(client, configured, celery_worker):
    seen = []
    events.register_handler("change_unheard_of", None, lambda e: seen.append(e.pk))
    try:
        assert _post(client, configured, _event(Event="change_unheard_of", ChangeType="x")).status_code == 200
        event = CallbackEvent.objects.get()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and CallbackEvent.objects.get(pk=event.pk).status == EventStatus.PENDING:
            time.sleep(0.05)
        assert CallbackEvent.objects.get(pk=event.pk).status == EventStatus.DONE
        assert seen == [event.pk]
    finally:
        events._handlers.pop(("change_unheard_of", None), None)
