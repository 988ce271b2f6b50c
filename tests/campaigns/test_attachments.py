"""Campaign attachments (images, links, mini-program cards): their shape and each channel's rules,
with errors naming the attachment; image uploads (JPG/PNG by their bytes, at most 10 MB) kept in the
default storage; the API (upload, create, read, edit, the image's content); and each channel against
its real local server: the outbox records them, a webhook carries them, email renders an HTML part
(read back from the local SMTP server), SMS refuses them, WeCom uploads images as media (once per
image while valid, again when expired or unknown) and sends them with the task, links tracked."""

from __future__ import annotations

import datetime as dt
import re
import struct
import zlib

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from campaigns import attachments as kinds
from campaigns import channels
from campaigns.fake import smtp as fake_smtp
from campaigns.fake import webhook as fake_webhook
from campaigns.links import tokens
from campaigns.links.models import Click, ShortLink
from campaigns.models import CampaignImage, OutboxMessage, WecomMassTask, WecomTaskState
from campaigns.services import attachments as service
from campaigns.services import campaigns as lifecycle
from campaigns.services import sending
from members.models import Identity
from scrm.errors import InvalidInput
from tests.campaigns.wecom import CREATE, TEXT, due_now, seed, states, wecom_campaign
from wecom.client import errors, get_client

pytestmark = pytest.mark.django_db

PUBLIC = "https://go.example.cn"
TRACKED = re.compile(re.escape(PUBLIC) + r"/l/([0-9A-Za-z]{7})/([0-9A-Za-z_~-]+)")
LINK = {"type": "link", "title": "春季新品", "url": "https://shop.example.com/spring", "description": "到店试吃",
        "picture_url": "https://shop.example.com/p.png"}
APPID = "wx0123456789abcdef"
UPLOAD = "media/upload"


def png(width=2, height=3, extra=b"") -> bytes:
    """A real PNG file (one colour) of the given size."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"tEXt", b"c\x00" + extra) + chunk(b"IEND", b""))


def jpeg(width=4, height=5) -> bytes:
    """A JPEG's header up to its frame (enough for its type and size)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def upload(actor, data=None, name="spring.png", store=None) -> CampaignImage:
    return service.upload_image(actor=actor, file=SimpleUploadedFile(name, data or png()), store=store)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SIYU_PUBLIC_URL = PUBLIC
    return tmp_path / "media"


def _messages(exc) -> list[str]:
    return [str(m) for m in exc.value.details["attachments"]]


# --- the shape -------------------------------------------------------------------------------------


def test_each_problem_names_its_attachment_and_what_is_wrong():
    with pytest.raises(InvalidInput) as exc:
        kinds.parse([
            {"type": "link", "title": "", "url": "ftp://x"},
            {"type": "miniprogram", "title": "x" * 65, "appid": "wx1", "page": "pages/a", "image": 3, "colour": 1},
            {"type": "video"},
            {"type": "image", "image": "3"},
        ])
    problems = _messages(exc)
    assert "Attachment 1 (link): title is empty." in problems
    assert "Attachment 1 (link): url is not an http(s) address." in problems
    assert any(p.startswith("Attachment 2 (mini-program card): unknown field(s) colour") for p in problems)
    assert "Attachment 2 (mini-program card): title is 65 bytes; at most 64." in problems
    assert any(p.startswith("Attachment 2 (mini-program card): appid is not a mini-program appid") for p in problems)
    assert any(p.startswith("Attachment 3: unknown type 'video'") for p in problems)
    assert "Attachment 4 (image): image must be the id of an uploaded image." in problems


def test_at_most_nine_and_a_normalised_list_in_order():
    with pytest.raises(InvalidInput) as exc:
        kinds.parse([LINK] * 10)
    assert _messages(exc) == ["10 attachments; at most 9."]
    cleaned = kinds.parse([{"type": "link", "title": " 新品 ", "url": "https://a.example/x"},
                           {"type": "image", "image": 7}])
    assert cleaned == [{"type": "link", "title": "新品", "url": "https://a.example/x", "description": "",
                        "picture_url": ""}, {"type": "image", "image": 7}]


def test_each_channel_declares_what_it_carries():
    items = kinds.parse([{"type": "image", "image": 1}, LINK,
                         {"type": "miniprogram", "title": "商城", "appid": APPID, "page": "pages/index", "image": 1}])
    for code in ("outbox", "wecom", "webhook"):
        channels.get(code).check_attachments(items)
    with pytest.raises(InvalidInput) as exc:
        channels.get("email").check_attachments(items)
    assert _messages(exc) == ["Attachment 3 (mini-program card): Email does not carry it (it takes image, link)."]
    with pytest.raises(InvalidInput) as exc:
        channels.get("sms").check_attachments(items)
    assert _messages(exc)[0].startswith("SMS carries at most 0 attachments")
    assert "Attachment 1 (image): an SMS is text only and cannot carry it." in _messages(exc)
    assert ("Attachment 2 (link): an SMS is text only. Write the link into the message instead; it is sent as a "
            "tracked link.") in _messages(exc)


# --- images ----------------------------------------------------------------------------------------


def test_an_image_is_kept_in_the_default_storage_with_its_type_and_size(alice, media):
    image = upload(alice, png(640, 480), name="../../etc/春季.png")
    assert (image.content_type, image.width, image.height, image.name) == ("image/png", 640, 480, "春季.png")
    assert image.file.name.startswith("campaigns/images/") and image.file.name.endswith(".png")
    assert (media / image.file.name).read_bytes() == png(640, 480) and image.size == len(png(640, 480))
    photo = upload(alice, jpeg(1080, 720), name="photo.jpg")
    assert (photo.content_type, photo.width, photo.height) == ("image/jpeg", 1080, 720)


@pytest.mark.parametrize(("data", "says"), [
    (b"GIF89a" + b"\x00" * 20, "not a JPG or PNG"),
    (b"\x89PNG", "empty or too small"),
    (png(extra=b"x" * (10 * 1024 * 1024)), "at most 10,485,760"),
])
def test_an_image_that_is_not_a_jpg_or_png_within_10_mb_is_refused(alice, media, data, says):
    with pytest.raises(InvalidInput) as exc:
        upload(alice, data, name="spring.png")
    assert says in str(exc.value.details["file"][0])
    assert not CampaignImage.objects.exists() and not (media / "campaigns").exists()


def test_a_campaign_uses_only_images_it_may_see_of_its_store(alice, bob, store_a, store_b, make_campaign):
    theirs = upload(alice, store=store_b)
    with pytest.raises(InvalidInput) as exc:
        make_campaign(actor=bob, start=False, attachments=[{"type": "image", "image": theirs.pk}])
    assert _messages(exc) == [f"Attachment 1 (image): no image {theirs.pk} (upload it first)."]  # bob cannot see it
    with pytest.raises(InvalidInput) as exc:
        make_campaign(start=False, attachments=[{"type": "image", "image": theirs.pk}])  # brand-wide campaign
    assert _messages(exc) == [f"Attachment 1 (image): image {theirs.pk} belongs to another store."]
    brand = upload(alice)
    campaign = make_campaign(start=False, attachments=[{"type": "image", "image": brand.pk}])
    assert campaign.attachments == [{"type": "image", "image": brand.pk}]


# --- outbox, webhook: the attachments as each member gets them -------------------------------------


def test_the_outbox_records_each_members_attachments_with_their_tracked_link(alice, audience, make_campaign):
    image = upload(alice)
    campaign = make_campaign(attachments=[{"type": "image", "image": image.pk}, LINK])
    assert sending.tick().sent == 5
    a, _b = audience
    message = OutboxMessage.objects.get(campaign=campaign, member=a[0])
    first, second = message.attachments
    assert first["type"] == "image" and first["image"]["id"] == image.pk
    assert first["image"]["sha256"] == image.sha256 and first["image"]["content_type"] == "image/png"
    code, token = TRACKED.fullmatch(second["url"]).groups()
    assert ShortLink.objects.get(code=code).target_url == LINK["url"] and tokens.member_of(code, token) == a[0].pk
    assert second["title"] == "春季新品" and second["picture_url"] == LINK["picture_url"]
    response = Client().get(f"/l/{code}/{token}")
    assert response.status_code == 302 and response["Location"] == LINK["url"]
    assert Click.objects.get().member_id == a[0].pk


def test_the_api_creates_reads_and_edits_attachments_and_serves_the_image(api_client, alice, bob, everyone, store_b,
                                                                          audience, policy, settings):
    settings.SIYU_SMS_URL, settings.SIYU_SMS_KEY = "http://127.0.0.1:9", "k"
    api_client.force_authenticate(alice)
    uploaded = api_client.post("/api/v1/campaign-images/", {"file": SimpleUploadedFile("a.png", png(8, 9))},
                               format="multipart")
    assert uploaded.status_code == 201, uploaded.json()
    image = uploaded.json()
    assert (image["width"], image["height"], image["content_type"], image["store"]) == (8, 9, "image/png", None)
    bad = api_client.post("/api/v1/campaign-images/", {"file": SimpleUploadedFile("a.png", b"<svg></svg>")},
                          format="multipart")
    assert bad.status_code == 400 and "file" in bad.json()["error"]["details"]
    misspelt = api_client.post("/api/v1/campaign-images/", {"file": SimpleUploadedFile("a.png", png()), "shop": "x"},
                               format="multipart")
    assert misspelt.status_code == 400 and list(misspelt.json()["error"]["details"]) == ["shop"]

    body = {"name": "spring", "segment": everyone.pk, "channel": "outbox", "content": "Hi {name}",
            "attachments": [LINK, {"type": "image", "image": image["id"]}]}
    created = api_client.post("/api/v1/campaigns/", body, format="json")
    assert created.status_code == 201, created.json()
    campaign = created.json()
    assert [a["type"] for a in campaign["attachments"]] == ["link", "image"]
    detail = api_client.get(f"/api/v1/campaigns/{campaign['id']}/").json()
    assert detail["attachments"][1] == {"type": "image", "image": image["id"]}

    refused = api_client.post("/api/v1/campaigns/", body | {"channel": "sms"}, format="json")
    assert refused.status_code == 400
    assert any(m.startswith("Attachment 1 (link): an SMS is text only")
               for m in refused.json()["error"]["details"]["attachments"])

    edited = api_client.patch(f"/api/v1/campaigns/{campaign['id']}/",
                              {"attachments": [{"type": "image", "image": image["id"]}, LINK]}, format="json")
    assert edited.status_code == 200, edited.json()
    assert [a["type"] for a in edited.json()["attachments"]] == ["image", "link"]

    content = api_client.get(f"/api/v1/campaign-images/{image['id']}/content/")
    assert content.status_code == 200 and content["Content-Type"] == "image/png"
    assert b"".join(content.streaming_content) == png(8, 9)

    theirs = upload(alice, store=store_b)
    api_client.force_authenticate(bob)  # store A's manager
    assert api_client.get(f"/api/v1/campaign-images/{theirs.pk}/").status_code == 404
    assert api_client.get(f"/api/v1/campaign-images/{theirs.pk}/content/").status_code == 404


def test_the_outbox_api_shows_the_attachments(api_client, alice, audience, make_campaign):
    campaign = make_campaign(attachments=[LINK])
    sending.tick()
    api_client.force_authenticate(alice)
    results = api_client.get("/api/v1/outbox/", {"campaign": campaign.pk}).json()["results"]
    assert len(results) == 5 and all(TRACKED.fullmatch(r["attachments"][0]["url"]) for r in results)


def test_a_webhook_carries_the_attachments_with_the_images_address(alice, audience, make_campaign, settings):
    secret = "whsec-test-0123456789abcdef"
    running = fake_webhook.start(fake_webhook.Receiver(secret=secret))
    settings.SIYU_WEBHOOK_URL, settings.SIYU_WEBHOOK_SECRET = running.receiver.url, secret
    settings.SIYU_WEBHOOK_TIMEOUT, settings.SIYU_WEBHOOK_RATE = 0.5, 200
    try:
        image = upload(alice)
        card = {"type": "miniprogram", "title": "商城", "appid": APPID, "page": "pages/index", "image": image.pk}
        campaign = make_campaign(channel="webhook", attachments=[card, LINK])
        assert sending.tick().sent == 5
        a, _b = audience
        (message,) = running.receiver.by_key(f"siyu-{campaign.pk}-{a[0].pk}")
    finally:
        running.stop()
    sent_card, sent_link = message.body["attachments"]
    assert sent_card["appid"] == APPID and sent_card["image"]["content_url"] == (
        f"{PUBLIC}/api/v1/campaign-images/{image.pk}/content/")
    code, token = TRACKED.fullmatch(sent_link["url"]).groups()
    assert tokens.member_of(code, token) == a[0].pk


# --- email: an HTML part read back from the local SMTP server --------------------------------------


def test_email_renders_images_inline_and_links_as_cards_and_keeps_the_plain_text(alice, audience, make_campaign,
                                                                                   settings):
    running = fake_smtp.start(fake_smtp.Mailbox())
    settings.SIYU_SMTP_HOST, settings.SIYU_SMTP_PORT = running.host, running.port
    settings.SIYU_SMTP_SECURITY, settings.SIYU_SMTP_FROM = "none", "思语 <news@brand.example>"
    settings.SIYU_SMTP_USER, settings.SIYU_SMTP_PASSWORD = "", ""
    settings.SIYU_SMTP_TIMEOUT, settings.SIYU_SMTP_RATE = 0.5, 200
    a, _b = audience
    Identity.objects.create(member=a[0], channel="email", external_id="a0@example.com")
    try:
        image = upload(alice, png(30, 20))
        campaign = make_campaign(channel="email", content="春季新品\n{name}，你好 <3",
                                 attachments=[{"type": "image", "image": image.pk}, LINK])
        assert sending.tick().sent == 1
        (mail,) = running.mailbox.to("a0@example.com")
    finally:
        running.stop()
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.get_payload()
    assert plain.get_content_type() == "text/plain"
    plain_text = plain.get_content()
    assert plain_text.startswith(f"{a[0].name}，你好 <3") and "春季新品: " + PUBLIC + "/l/" in plain_text
    assert rich.get_content_type() == "multipart/related"
    html_part, inline = rich.get_payload()
    html = html_part.get_content()
    assert "你好 &lt;3" in html and "<strong>春季新品</strong>" in html and "到店试吃" in html
    (href,) = re.findall(r'<a href="([^"]+)"', html)
    code, token = TRACKED.fullmatch(href).groups()
    assert tokens.member_of(code, token) == a[0].pk
    cid = inline["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert inline.get_content_type() == "image/png" and inline.get_payload(decode=True) == png(30, 20)
    assert mail.message_id == f"<siyu-{campaign.pk}-{a[0].pk}@brand.example>"


def test_sms_refuses_a_campaign_with_attachments(alice, make_campaign, settings):
    settings.SIYU_SMS_URL, settings.SIYU_SMS_KEY = "http://127.0.0.1:9", "k"
    with pytest.raises(InvalidInput) as exc:
        make_campaign(channel="sms", content="春季新品到店", attachments=[LINK])
    assert _messages(exc) == [
        "SMS carries at most 0 attachments; this campaign has 1.",
        "Attachment 1 (link): an SMS is text only. Write the link into the message instead; it is sent as a "
        "tracked link."]


# --- WeCom: media uploaded at send time, reused while valid ---------------------------------------


def _wecom_items(image):
    return [{"type": "image", "image": image.pk}, LINK,
            {"type": "miniprogram", "title": "商城", "appid": APPID, "page": "pages/index", "image": image.pk}]


def test_wecom_uploads_the_image_once_and_sends_it_with_every_staff_members_task(server, wstaff, make_campaign,
                                                                                  alice, carol, erin):
    corp = server.corp
    seed(corp, wstaff["carol"])
    seed(corp, wstaff["erin"], 2)
    image = upload(alice, png(520, 416))
    campaign = wecom_campaign(make_campaign, content=TEXT + " https://shop.example.com/menu",
                              attachments=_wecom_items(image))
    sending.tick()
    assert server.calls(UPLOAD) == 1 and server.calls(CREATE) == 2  # one media_id for both tasks
    assert states(campaign) == {"accepted": 6}
    image.refresh_from_db()
    (media_id,) = corp.media
    assert image.wecom_media_id == media_id and corp.media[media_id]["sha256"] == image.sha256
    assert corp.media[media_id]["content_type"] == "image/png"
    by_sender = {t.sender: corp.msg_tasks[t.msgid] for t in WecomMassTask.objects.filter(campaign=campaign)}
    for staff, task in (("carol", by_sender["carol"]), ("erin", by_sender["erin"])):
        sent_image, sent_link, card = task["attachments"]
        assert sent_image == {"msgtype": "image", "image": {"media_id": media_id}}
        assert card["miniprogram"] == {"title": "商城", "pic_media_id": media_id, "appid": APPID,
                                       "page": "pages/index"}
        assert sent_link["link"]["picurl"] == LINK["picture_url"] and sent_link["link"]["desc"] == "到店试吃"
        # One text for all of a staff member's customers: the links name the staff member, not a member.
        code, token = TRACKED.fullmatch(sent_link["link"]["url"]).groups()
        staff_user = {"carol": carol, "erin": erin}[staff]
        assert tokens.staff_of(code, token) == staff_user.pk and tokens.member_of(code, token) is None
        (text_code, text_token), = TRACKED.findall(task["text"])
        assert ShortLink.objects.get(code=text_code).target_url == "https://shop.example.com/menu"
        assert tokens.staff_of(text_code, text_token) == staff_user.pk
    Client().get(TRACKED.search(by_sender["carol"]["text"]).group(0).removeprefix(PUBLIC))
    click = Click.objects.get()
    assert (click.campaign_id, click.member_id) == (campaign.pk, None)  # counted for the campaign


def test_an_expired_media_id_is_uploaded_again_and_an_unknown_one_is_retried(server, wstaff, make_campaign, alice):
    corp = server.corp
    seed(corp, wstaff["carol"], 2)
    image = upload(alice)
    campaign = wecom_campaign(make_campaign, attachments=[{"type": "image", "image": image.pk}], start=False)
    # A media_id kept from earlier that WeCom no longer knows (as when its three days ran out early).
    CampaignImage.objects.filter(pk=image.pk).update(wecom_media_id="3expired", wecom_uploaded_at=timezone.now())
    lifecycle.approve(campaign=campaign, actor=alice)
    lifecycle.send(campaign=campaign, actor=alice)
    sending.tick()
    assert server.calls(UPLOAD) == 0 and server.calls(CREATE) == 1  # WeCom answered 40007: nothing created
    (failed,) = WecomMassTask.objects.filter(campaign=campaign)
    assert failed.state == WecomTaskState.FAILED and "errcode 40007" in failed.error
    assert states(campaign) == {"pending": 2}
    image.refresh_from_db()
    assert image.wecom_media_id == ""  # forgotten: the retry uploads it again
    due_now(campaign)
    sending.tick()
    assert server.calls(UPLOAD) == 1 and server.calls(CREATE) == 2 and states(campaign) == {"accepted": 2}

    # Near the end of its three days a kept media_id is not used: uploaded again.
    image.refresh_from_db()
    old = image.wecom_media_id
    CampaignImage.objects.filter(pk=image.pk).update(wecom_uploaded_at=timezone.now() - dt.timedelta(days=2, hours=20))
    image.refresh_from_db()
    assert service.media_id(image, client=get_client(), now=timezone.now()) != old
    assert server.calls(UPLOAD) == 2
    image.refresh_from_db()
    fresh = image.wecom_media_id
    assert service.media_id(image, client=get_client(), now=timezone.now()) == fresh and server.calls(UPLOAD) == 2


def test_the_local_wecom_server_checks_uploads_and_attachments_as_wecom_does(server):
    client = get_client()
    base = f"{server.url}/cgi-bin/media/upload"
    token = client.tokens.get()

    def post(kind, data, name="a.png"):
        return httpx.post(base, params={"access_token": token, "type": kind},
                          files={"media": (name, data, "image/png")}).json()

    ok = post("image", png())
    assert ok["errcode"] == 0 and ok["type"] == "image" and int(ok["created_at"]) > 0
    assert post("picture", png())["errcode"] == 40005
    assert post("image", b"GIF89a" + b"\x00" * 20)["errcode"] == 40004
    assert post("image", b"\x89PNG")["errcode"] == 40006
    assert post("image", png(extra=b"x" * (10 * 1024 * 1024)))["errcode"] == 40009
    assert httpx.post(base, params={"access_token": token, "type": "image"}, content=b"{}").json()["errcode"] == 44001
    corp = server.corp
    userid = corp.follow_user_list()[0]
    body = {"chat_type": "single", "sender": userid, "text": {"content": "hi"},
            "external_userid": [corp.external_userid(corp.contacts_of(userid)[0])]}
    def create(attachments):
        return httpx.post(f"{server.url}/cgi-bin/{CREATE}", params={"access_token": token},
                          json=body | {"attachments": attachments}).json()

    assert create([{"msgtype": "image", "image": {"media_id": "3nope"}}])["errcode"] == 40007
    card = {"title": "x", "appid": APPID, "page": "p"}  # no pic_media_id
    assert create([{"msgtype": "miniprogram", "miniprogram": card}])["errcode"] == 40058
    good = [{"msgtype": "image", "image": {"media_id": ok["media_id"]}}]
    assert create(good)["errcode"] == 0
    corp.travel(3 * 86400 + 1)  # a media_id lives three days
    with pytest.raises(errors.InvalidRequest) as expired:
        client.post(CREATE, body | {"attachments": good})
    assert expired.value.errcode == 40007
