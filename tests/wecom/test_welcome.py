"""Welcome messages through channel codes against the local WeCom server: sent within the window
(once, however often the event is handled), expired past it without a call, 41051 recorded as used;
the code's tags marked on the new follow relation."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

from wecom.models import CorpTagLink, WecomStaff, WelcomeSend, WelcomeStatus
from wecom.services import channels, events, tags, welcome


@pytest.fixture
def code(corp, alice, store_a):
    tags.sync_tags()
    staff = WecomStaff.objects.create(userid=corp.corp.staff[0], store=store_a)
    link = CorpTagLink.objects.select_related("tag").filter(tag__group__multiple=True).first()
    made = channels.create_code(actor=alice, data={
        "name": "门店欢迎", "store": store_a, "staff": [staff], "tags": [link.tag],
        "welcome_enabled": True, "welcome_text": "欢迎来到南京西路店！",
    })
    return channels.push_code(code_id=made.pk)


def _add(corp, code):
    corp.corp.add_contact(userid=code.staff.get().userid, state=code.state)
    fields = corp.events[-1]
    assert fields["ChangeType"] == "add_external_contact" and fields["WelcomeCode"]
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return events.store_event(fields, raw_digest=digest), fields


def test_sent_within_the_window_once(corp, code):
    event, fields = _add(corp, code)
    assert welcome.handle_add_event(event) == WelcomeStatus.SENT
    assert welcome.handle_add_event(event) == "already"
    sent = WelcomeSend.objects.get(event=event)
    assert (sent.status, sent.channel_code_id) == (WelcomeStatus.SENT, code.pk)
    assert [w["text"] for w in corp.corp.welcomes_sent] == ["欢迎来到南京西路店！"]
    # the code's linked tag is marked on the new follow relation
    fake = corp.corp
    i = fake.index_of(fields["ExternalUserID"])
    wecom_tag = code.tags.get().wecom.wecom_tag_id
    assert wecom_tag in fake.follow_info(i, fields["UserID"])["_tag_ids"]


def test_through_the_event_processor(corp, code):
    event, _fields = _add(corp, code)
    events.process_event(event.pk)
    assert WelcomeSend.objects.get(event=event).status == WelcomeStatus.SENT


def test_expired_past_the_window_without_a_call(corp, code):
    event, _fields = _add(corp, code)
    late = (event.created_at_wecom or event.received_at) + timedelta(seconds=welcome.WINDOW_SECONDS + 1)
    assert welcome.send_welcome(event=event, code=code, now=late) == WelcomeStatus.EXPIRED
    assert WelcomeSend.objects.get(event=event).status == WelcomeStatus.EXPIRED
    assert corp.corp.welcomes_sent == []
    assert welcome.handle_add_event(event) == "already"
    assert corp.corp.welcomes_sent == []


def test_a_used_welcome_code_is_recorded(corp, code):
    event, _fields = _add(corp, code)
    corp.corp.travel(21)  # WeCom's 20 s have passed on its side: 41051
    assert welcome.send_welcome(event=event, code=code, now=event.created_at_wecom or event.received_at) == "used"
    sent = WelcomeSend.objects.get(event=event)
    assert (sent.status, sent.errcode) == (WelcomeStatus.USED, 41051)


def test_no_welcome_for_codes_without_one_or_others_states(corp, code):
    code.welcome_enabled = False
    code.save()
    event, _fields = _add(corp, code)
    assert welcome.handle_add_event(event) == "no_welcome"
    assert not WelcomeSend.objects.exists()
    stranger = events.store_event({"Event": "change_external_contact", "ChangeType": "add_external_contact",
                                   "State": "not-ours", "WelcomeCode": "x", "CreateTime": "1"}, raw_digest="f" * 64)
    assert welcome.handle_add_event(stranger) == "not_ours"


def test_the_name_placeholder_carries_the_customers_wechat_name(corp, code):
    code.welcome_text = "{name}您好，欢迎来到南京西路店！"
    code.save()
    corp.corp.add_contact(userid=code.staff.get().userid, state=code.state, name="林小姐")
    fields = corp.events[-1]
    event = events.store_event(fields, raw_digest=hashlib.sha256(json.dumps(fields).encode()).hexdigest())
    events.process_event(event.pk)
    assert WelcomeSend.objects.get(event=event).status == WelcomeStatus.SENT
    assert [w["text"] for w in corp.corp.welcomes_sent] == ["林小姐您好，欢迎来到南京西路店！"]


def test_the_name_is_empty_when_wecom_does_not_give_it(corp, code):
    code.welcome_text = "您好{name}！"
    code.save()
    userid = code.staff.get().userid
    for gone in (False, True):
        corp.corp.add_contact(userid=userid, state=code.state)
        fields = corp.events[-1]
        if gone:  # the customer left at once: externalcontact/get answers 84061, the welcome still goes
            corp.corp.delete(external_userid=fields["ExternalUserID"], userid=userid, by="customer")
        else:  # WeCom answers the contact without a name
            corp.corp.edit(external_userid=fields["ExternalUserID"], userid=userid, name="")
        event = events.store_event(fields, raw_digest=hashlib.sha256(json.dumps(fields).encode()).hexdigest())
        assert welcome.handle_add_event(event) == WelcomeStatus.SENT
    assert [w["text"] for w in corp.corp.welcomes_sent] == ["您好！", "您好！"]


def test_a_text_without_the_placeholder_is_sent_as_written_with_braces(corp, code):
    assert welcome.render("{name}，{", name="王") == "王，{"
    assert welcome.render("a{name}b", name="") == "ab"
    assert len(welcome.render("欢" * 1333 + "{name}", name="林小姐").encode()) <= welcome.MAX_BYTES


def test_placeholders_other_than_name_are_refused_naming_the_one_there_is(corp, code, alice):
    from scrm.errors import InvalidInput

    with pytest.raises(InvalidInput) as exc:
        channels.update_code(code=code, actor=alice, data={"welcome_text": "{first_name}您好 {name} {}"})
    message = " ".join(exc.value.details["welcome_text"])
    assert "{first_name}" in message and "{}" in message and "{name}" in message and "WeChat name" in message
    code.refresh_from_db()
    assert code.welcome_text == "欢迎来到南京西路店！"
    channels.update_code(code=code, actor=alice, data={"welcome_text": "{name}，欢迎！"})
    code.refresh_from_db()
    assert code.welcome_text == "{name}，欢迎！"


def test_the_form_and_the_api_refuse_an_unknown_placeholder(corp, code, alice, client, key_client, store_a):
    client.force_login(alice)
    form = client.get(f"/wecom/channels/{code.pk}/").content.decode()
    assert "{name} is replaced by the customer&#x27;s WeChat name" in form
    assert 'aria-describedby="id_welcome_text-help"' in form and 'id="id_welcome_text-help"' in form
    staff = code.staff.get()
    refused = client.post("/wecom/channels/new/", {
        "name": "占位", "purpose": "store", "store": store_a.pk, "staff": [staff.pk], "welcome_enabled": "on",
        "welcome_text": "{nickname}您好"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "Unknown placeholder {nickname}" in page and "may use only {name}" in page
    api = key_client(scopes=["wecom_channel_codes:read", "wecom_channel_codes:write"], store=store_a)
    answer = api.post("/api/v1/wecom/channel-codes/", {"name": "占位", "store": store_a.code, "staff": [staff.userid],
                                                       "welcome_enabled": True, "welcome_text": "Hi {Name}"},
                      format="json")
    assert answer.status_code == 400
    assert "Unknown placeholder {Name}" in answer.json()["error"]["details"]["welcome_text"][0]
    made = api.post("/api/v1/wecom/channel-codes/", {"name": "占位", "store": store_a.code, "staff": [staff.userid],
                                                     "welcome_enabled": True, "welcome_text": "Hi {name}"},
                    format="json")
    assert made.status_code == 201 and made.json()["welcome_text"] == "Hi {name}"
