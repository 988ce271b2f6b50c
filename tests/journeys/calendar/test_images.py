"""Images on planned posts, against the local WeCom server over real HTTP: uploaded from the form as the
campaigns' images are (JPG or PNG by their bytes, at most 10 MB, at most 9), checked with what and where
and nothing kept when refused; at publish time a Moment's images go up through media/upload_attachment
and add_moment_task names their media ids (the local server refuses a media/upload id there), a
customer-group post's as temporary media; the API takes uploaded image ids."""

from __future__ import annotations

import datetime as dt
import hashlib
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from campaigns.models import CampaignImage
from campaigns.services import attachments
from journeys.calendar import services
from journeys.calendar.models import MAX_IMAGES, PlannedPost
from journeys.calendar.services import PostInput
from scrm.errors import InvalidInput
from scrm.models import Store
from wecom.client import errors as wecom_errors
from wecom.client import get_client, moments

pytestmark = pytest.mark.django_db


def png(width=2, height=3) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg(width=4, height=5) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def _file(name="a.png", data=None):
    return SimpleUploadedFile(name, data if data is not None else png(), content_type="image/png")


def _input(**fields) -> PostInput:
    values = {"title": "新品上市", "text": "可可冷萃，来店里尝一尝。", "publish_at": timezone.now(),
              "audience": "store", "store": Store.objects.get(code="SH01")}
    values.update(fields)
    return PostInput(**values)


def test_a_moments_images_go_up_as_moment_attachments_and_the_task_names_them(corp, linked, bob):
    post = services.save_post(actor=bob, data=_input(), files=[_file("a.png", png(4, 3)), _file("b.jpg", jpeg())])
    images = services.images_of(post)
    assert [i.name for i in images] == ["a.png", "b.jpg"] and all(i.store_id == post.store_id for i in images)
    services.tick()
    post.refresh_from_db()
    assert post.state == "submitted" and post.jobid, post.error
    (job,) = corp.corp.moments.jobs.values()
    media_ids = [a["image"]["media_id"] for a in job["attachments"]]
    assert [a["msgtype"] for a in job["attachments"]] == ["image", "image"]
    for media_id, image in zip(media_ids, images, strict=True):
        media = corp.corp.media[media_id]
        assert media["attachment_type"] == 1 and media["sha256"] == hashlib.sha256(png(4, 3) if image.name == "a.png"
                                                                                    else jpeg()).hexdigest()
    services.tick(now=timezone.now() + dt.timedelta(seconds=30))
    post.refresh_from_db()
    assert post.state == "created" and post.moment_id


def test_the_local_server_takes_only_moment_attachments_in_a_moment(corp, linked):
    client = get_client()
    temporary = client.upload("media/upload", params={"type": "image"}, filename="a.png", content=png(),
                              content_type="image/png")["media_id"]
    with pytest.raises(wecom_errors.WecomError) as excinfo:
        moments.add_task(moments.body(text="x", image_media_ids=[temporary]), client=client)
    assert excinfo.value.errcode == 40007
    good = moments.upload_image(filename="a.png", content=png(), content_type="image/png", client=client)
    assert moments.add_task(moments.body(text="x", image_media_ids=[good]), client=client)


def test_bad_images_are_refused_naming_them_and_nothing_is_kept(linked, bob, alice, store_b):
    before = CampaignImage.objects.count()
    cases = [
        ({}, [_file("x.gif", b"GIF89a" + b"\x00" * 20)], "x.gif"),
        ({}, [_file(f"{i}.png") for i in range(MAX_IMAGES + 1)], "at most 9"),
        ({"link_url": "https://shop.example.com/"}, [_file()], "not both"),
        ({"text": "", "link_url": ""}, [_file("ok.png"), _file("tiny.png", b"\x89PNG")], "tiny.png"),
    ]
    for fields, files, said in cases:
        with pytest.raises(InvalidInput) as excinfo:
            services.save_post(actor=bob, data=_input(**fields), files=files)
        assert said in " ".join(map(str, excinfo.value.details["images"])), excinfo.value.details
    # Another store's image, named by id.
    theirs = attachments.upload_image(actor=alice, file=_file("b.png"), store=store_b)
    with pytest.raises(InvalidInput) as excinfo:
        services.save_post(actor=bob, data=_input(image_ids=[theirs.pk]))
    assert "images" in excinfo.value.details
    assert CampaignImage.objects.count() == before + 1 and not PlannedPost.objects.exists()


def test_a_group_posts_images_go_as_temporary_media_reused(corp, linked, bob):
    post = services.save_post(actor=bob, data=_input(kind="group", link_url="https://shop.example.com/"),
                              files=[_file()])
    services.tick()
    tasks = list(corp.corp.msg_tasks.values())
    assert len(tasks) == 2  # one per sender (bob, carol)
    first = tasks[0]["attachments"]
    assert [a["msgtype"] for a in first] == ["image", "link"]
    assert {t["attachments"][0]["image"]["media_id"] for t in tasks} == {first[0]["image"]["media_id"]}
    assert CampaignImage.objects.get(pk=post.image_ids[0]).wecom_media_id == first[0]["image"]["media_id"]


def test_the_form_uploads_keeps_and_removes_images(linked, client, bob):
    client.force_login(bob)
    when = timezone.localtime() + dt.timedelta(days=1)
    form = {"title": "周末", "kind": "moment", "date": when.date().isoformat(), "time": "10:00", "text": "",
            "audience": "store", "store": "SH01", "action": "schedule"}
    response = client.post(reverse("calendar-new"), {**form, "images": [_file("a.png"), _file("b.png")]})
    assert response.status_code == 302, response.content.decode()[:2000]
    post = PlannedPost.objects.get()
    first, second = post.image_ids
    page = client.get(reverse("calendar-post", args=[post.pk])).content.decode()
    assert reverse("campaign-image", args=[first]) in page
    edit = client.get(reverse("calendar-edit", args=[post.pk])).content.decode()
    assert 'name="keep_images"' in edit and 'enctype="multipart/form-data"' in edit
    response = client.post(reverse("calendar-edit", args=[post.pk]), {**form, "keep_images": [second]})
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.image_ids == [second]
    bad = client.post(reverse("calendar-new"), {**form, "images": [_file("x.gif", b"GIF89a" + b"\x00" * 20)]})
    assert bad.status_code == 200 and "x.gif" in bad.content.decode()


def test_the_api_takes_uploaded_image_ids(linked, api_client, bob, alice, store_b):
    api_client.force_authenticate(bob)
    uploaded = api_client.post("/api/v1/campaign-images/", {"file": _file()}, format="multipart")
    assert uploaded.status_code == 201, uploaded.content
    image_id = uploaded.json()["id"]
    body = {"title": "周末", "text": "", "audience": "store", "store": "SH01", "images": [image_id],
            "publish_at": (timezone.now() + dt.timedelta(hours=2)).isoformat()}
    created = api_client.post("/api/v1/calendar/posts/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["images"] == [image_id]
    theirs = attachments.upload_image(actor=alice, file=_file(), store=store_b)
    refused = api_client.post("/api/v1/calendar/posts/", {**body, "images": [theirs.pk]}, format="json")
    assert refused.status_code == 400 and "images" in refused.json()["error"]["details"]
    too_many = api_client.post("/api/v1/calendar/posts/", {**body, "images": list(range(1, 11))}, format="json")
    assert too_many.status_code == 400 and "images" in too_many.json()["error"]["details"]
