"""Campaign attachments: uploading images, checking a campaign's attachments against its store and
channel, and what each channel gets at send time.

Images are JPG or PNG (told by their bytes, not by the name or the declared type), more than 5 bytes
and at most 10 MB (WeCom's limits for image media), kept in the default storage under
campaigns/images/<year>/<month>/. An image of a store serves that store's campaigns; a brand-wide one
(uploaded by an operator without a store) serves every campaign.

WeCom takes an image (and a mini-program card's cover) as a media_id from media/upload, valid three
days: it is uploaded when a campaign's tasks are created, kept on the image with its upload time and
reused while it has more than MEDIA_MARGIN left; past that, or when WeCom answers 40007 (an invalid
media_id) it is uploaded again.

Tracked links: a link attachment's url is tracked as the text's links are (campaigns.links: one
ShortLink per campaign and url). A member's copy (outbox, email, webhook) names the member; a WeCom
task carries one text and one set of attachments for all of a staff member's customers, so its links
carry a token naming that staff member (campaigns.links.tokens.make_for_staff): a click counts for
the campaign and its link, with no member."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import struct

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import attachments as kinds
from campaigns.links import services as links
from campaigns.models import Campaign, CampaignImage
from scrm import permissions
from scrm.actors import actor_user
from scrm.errors import Forbidden, InvalidInput
from scrm.models import Store
from scrm.scoping import access_for

RESOURCE = "campaigns"
IMAGE_MAX_BYTES = 10 * 1024 * 1024  # WeCom's image media limit
IMAGE_MIN_BYTES = 6  # WeCom: every media file is more than 5 bytes
TYPES = {"image/jpeg": "jpg", "image/png": "png"}
NAME_MAX = 120
MEDIA_VALID = dt.timedelta(days=3)  # a WeCom media_id's life
MEDIA_MARGIN = dt.timedelta(hours=6)  # re-upload before: a task created now is confirmed later
UPLOAD = "media/upload"


# --- images ----------------------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The image type of `data` by its signature (image/jpeg, image/png), None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def dimensions(data: bytes, content_type: str) -> tuple[int, int]:
    """(width, height) read from a PNG's IHDR or a JPEG's first frame header; (0, 0) when unreadable."""
    if content_type == "image/png" and len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    at = 2
    while content_type == "image/jpeg" and at + 9 < len(data):
        if data[at] != 0xFF:
            break
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = struct.unpack(">H", data[at + 2:at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + length
    return 0, 0


def _image_store(actor, store: Store | None) -> Store | None:
    access = access_for(actor)
    if access.all_stores:
        return store
    if access.store_id is None or (store is not None and store.pk != access.store_id):
        raise Forbidden(_("You can only upload images for your own store."))
    return Store.objects.get(pk=access.store_id)


def upload_image(*, actor, file, store: Store | None = None) -> CampaignImage:
    """Keep an uploaded image for attachments: InvalidInput under "file" when it is not a JPG or PNG
    of more than 5 bytes and at most 10 MB. A store role's image is its store's."""
    permissions.require_write(actor, RESOURCE)
    store = _image_store(actor, store)
    if file is None:
        raise InvalidInput(details={"file": [_("Choose an image file (JPG or PNG, at most 10 MB).")]})
    size = getattr(file, "size", None)
    if size is not None and size > IMAGE_MAX_BYTES:
        raise InvalidInput(details={"file": [_("The image is %(size)s bytes; at most %(max)s (10 MB).")
                                             % {"size": f"{size:,}", "max": f"{IMAGE_MAX_BYTES:,}"}]})
    data = file.read(IMAGE_MAX_BYTES + 1)
    if len(data) > IMAGE_MAX_BYTES:
        raise InvalidInput(details={"file": [_("The image is over %(max)s bytes (10 MB).")
                                             % {"max": f"{IMAGE_MAX_BYTES:,}"}]})
    if len(data) < IMAGE_MIN_BYTES:
        raise InvalidInput(details={"file": [_("The file is empty or too small to be an image.")]})
    content_type = sniff(data)
    if content_type is None:
        raise InvalidInput(details={"file": [_("The file is not a JPG or PNG image (other types cannot be sent "
                                               "through WeCom).")]})
    name = (getattr(file, "name", "") or "image").replace("\\", "/").rsplit("/", 1)[-1][:NAME_MAX] or "image"
    now = timezone.now()
    path = f"campaigns/images/{now:%Y/%m}/{secrets.token_hex(16)}.{TYPES[content_type]}"
    saved = default_storage.save(path, ContentFile(data))
    width, height = dimensions(data, content_type)
    try:
        with transaction.atomic():
            image = CampaignImage(
                store=store, name=name, content_type=content_type, size=len(data), width=width, height=height,
                sha256=hashlib.sha256(data).hexdigest(), created_by=actor_user(actor), created_at=now,
            )
            image.file.name = saved
            image.save()
    except Exception:
        default_storage.delete(saved)
        raise
    return image


def discard_file(image: CampaignImage) -> None:
    """Remove an image's stored file (an upload whose campaign was refused, its row rolled back)."""
    if image.file.name:
        default_storage.delete(image.file.name)


def read_image(image: CampaignImage) -> bytes:
    with default_storage.open(image.file.name, "rb") as handle:
        return handle.read()


# --- a campaign's attachments ----------------------------------------------------------------------


def clean(*, actor, raw, store: Store | None, channel) -> list[dict]:
    """The normalised attachments of `raw` for a campaign of `store` on `channel`: their shape
    (campaigns.attachments.parse), their images (visible to the actor, of the campaign's store or
    brand-wide) and the channel's own rules (Channel.check_attachments). InvalidInput naming each
    attachment that is wrong."""
    items = kinds.parse(raw)
    if not items:
        return []
    found = {i.pk: i for i in CampaignImage.objects.visible_to(actor).filter(pk__in=kinds.image_ids(items))}
    problems = []
    for position, item in enumerate(items):
        image_id = item.get("image")
        if image_id is None:
            continue
        image = found.get(image_id)
        if image is None:
            problems.append(_("%(which)s: no image %(id)d (upload it first).")
                            % {"which": kinds.label(position, item["type"]), "id": image_id})
        elif image.store_id is not None and image.store_id != getattr(store, "pk", None):
            problems.append(_("%(which)s: image %(id)d belongs to another store.")
                            % {"which": kinds.label(position, item["type"]), "id": image_id})
    if problems:
        raise InvalidInput(details={"attachments": problems})
    channel.check_attachments(items)
    return items


def check_for_send(campaign: Campaign) -> None:
    """Before sending: the channel still takes the attachments and their images are still there."""
    from campaigns import channels

    items = campaign.attachments or []
    if not items:
        return
    ids = kinds.image_ids(items)
    if len(CampaignImage.objects.filter(pk__in=ids)) != len(ids):
        raise InvalidInput(details={"attachments": [_("An image of the attachments is gone; upload it again.")]})
    channels.get(campaign.channel).check_attachments(items)


def images_of(campaign: Campaign) -> dict[int, CampaignImage]:
    return {i.pk: i for i in CampaignImage.objects.filter(pk__in=kinds.image_ids(campaign.attachments or []))}


def described(campaign: Campaign) -> list[dict]:
    """The campaign's attachments with their images' names, types and sizes (pages and the API)."""
    images = images_of(campaign)
    out = []
    for item in campaign.attachments or []:
        entry = dict(item)
        if item.get("image") in images:
            image = images[item["image"]]
            entry["image_info"] = {"id": image.pk, "name": image.name, "content_type": image.content_type,
                                   "size": image.size, "width": image.width, "height": image.height}
        out.append(entry)
    return out


# --- at send time ----------------------------------------------------------------------------------


class Renderer:
    """One campaign's attachments as each recipient gets them: a link's url is that member's tracked
    link (when the link has its code), an image names its file (id, name, type, size, sha256)."""

    def __init__(self, campaign: Campaign, tracker: links.Tracker | None = None) -> None:
        self.items = list(campaign.attachments or [])
        self.tracker = tracker or (links.Tracker(campaign) if self.items else None)
        self.images = images_of(campaign) if self.items else {}

    def _image(self, image_id: int) -> dict:
        image = self.images.get(image_id)
        if image is None:
            return {"id": image_id}
        return {"id": image.pk, "name": image.name, "content_type": image.content_type, "size": image.size,
                "sha256": image.sha256,
                "content_url": f"{settings.SIYU_PUBLIC_URL}/api/v1/campaign-images/{image.pk}/content/"}

    def for_member(self, member_id: int) -> tuple:
        out = []
        for item in self.items:
            entry = dict(item)
            if item["type"] == kinds.LINK:
                entry["url"] = self.tracker.url_for(item["url"], member_id)
            if item.get("image"):
                entry["image"] = self._image(item["image"])
            out.append(entry)
        return tuple(out)


def _media_fresh(image: CampaignImage, now: dt.datetime) -> bool:
    return bool(image.wecom_media_id and image.wecom_uploaded_at
                and image.wecom_uploaded_at > now - MEDIA_VALID + MEDIA_MARGIN)


def media_id(image: CampaignImage, *, client, now: dt.datetime) -> str:
    """The image's WeCom media_id: the one kept while it has MEDIA_MARGIN of its three days left,
    else a new upload (kept for the next task). Raises the client's errors."""
    if _media_fresh(image, now):
        return image.wecom_media_id
    answer = client.upload(UPLOAD, params={"type": "image"}, filename=image.name, content=read_image(image),
                           content_type=image.content_type)
    created = answer.get("created_at")
    try:
        uploaded_at = dt.datetime.fromtimestamp(int(created), tz=dt.UTC) if created else now
    except (TypeError, ValueError):
        uploaded_at = now
    uploaded_at = min(uploaded_at, now)  # the older clock of the two: never kept past its life
    image.wecom_media_id, image.wecom_uploaded_at = str(answer["media_id"])[:128], uploaded_at
    CampaignImage.objects.filter(pk=image.pk).update(wecom_media_id=image.wecom_media_id,
                                                     wecom_uploaded_at=uploaded_at)
    return image.wecom_media_id


def forget_media(campaign_id: int) -> int:
    """Drop the kept media_ids of a campaign's images (WeCom called one invalid): the next send uploads."""
    items = Campaign.objects.values_list("attachments", flat=True).get(pk=campaign_id) or []
    return CampaignImage.objects.filter(pk__in=kinds.image_ids(items)).update(wecom_media_id="",
                                                                              wecom_uploaded_at=None)


def wecom_attachments(campaign: Campaign, *, client, now: dt.datetime, tracker: links.Tracker,
                      staff_id: int | None) -> list[dict]:
    """add_msg_template's `attachments` for one staff member's task: images and covers as media_ids
    (uploaded now when not fresh), links tracked for (campaign, staff member). Raises the client's
    errors (nothing is created without its media)."""
    images = images_of(campaign)
    out = []
    for item in campaign.attachments or []:
        if item["type"] == kinds.IMAGE:
            out.append({"msgtype": "image", "image": {"media_id": media_id(images[item["image"]], client=client,
                                                                            now=now)}})
        elif item["type"] == kinds.LINK:
            link = {"title": item["title"], "url": tracker.url_for_staff(item["url"], staff_id)}
            if item.get("picture_url"):
                link["picurl"] = item["picture_url"]
            if item.get("description"):
                link["desc"] = item["description"]
            out.append({"msgtype": "link", "link": link})
        elif item["type"] == kinds.MINIPROGRAM:
            out.append({"msgtype": "miniprogram", "miniprogram": {
                "title": item["title"], "pic_media_id": media_id(images[item["image"]], client=client, now=now),
                "appid": item["appid"], "page": item["page"]}})
    return out
