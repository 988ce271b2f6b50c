"""The content calendar's rules: planning a post, cancelling it, and the tick that hands due posts to
WeCom and follows them until their day ends.

- `save_post` creates or edits a draft or scheduled post. Bad input is refused with what and where
  (no text, a time in the past, a chosen staff member who left or has no WeCom account, a tag not in
  WeCom, more than a brand-wide actor's reach); nothing is half-written.
- `tick` (beat, every minute; SKIP LOCKED, so workers share it) does, each bounded:
  1. `submit_due`: scheduled posts whose time has come are claimed (a conditional UPDATE to
     "submitted", committed before any call: the intent), their senders written as rows (one
     INSERT ... SELECT), then one add_moment_task, or one add_msg_template per sender for a
     customer-group post. WeCom takes no idempotency key: a call whose answer was lost is settled by
     reading the corp's Moments back (`get_moment_list`) before it is ever made again.
  2. `poll_jobs`: the asynchronous job of each submitted Moment (get_moment_task_result), with
     backoff and at most JOB_MAX_POLLS polls; done, the post is "created" (or "failed" with WeCom's
     reason) and senders WeCom refused are recorded.
  3. `poll_publish`: each created post's senders' publish status (get_moment_task, or
     get_groupmsg_task per sender), every PUBLISH_POLL_SECONDS until the end of the post's day in
     the brand's time zone; one UPDATE per poll marks who posted.
  Senders who have not posted get a staff task ("post today's Moment") through journeys' tasks, done
  by itself once WeCom says they posted.
- `cancel_post` cancels a post before WeCom has it, or stops it in WeCom (cancel_moment_task /
  cancel_groupmsg_send) for senders who have not posted yet.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from journeys.calendar.models import (
    ERROR_MAX,
    MAX_IMAGES,
    MAX_SENDERS,
    MAX_TAGS,
    TEXT_MAX_BYTES,
    TITLE_MAX,
    PlannedPost,
    PostAudience,
    PostKind,
    PostStaff,
    PostState,
    StaffStatus,
)
from members.models import Tag
from scrm import actors, events, permissions
from scrm.actors import SystemActor
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.models import STORE_ROLES, Store, User
from scrm.scoping import access_for
from wecom.client import errors as wecom_errors
from wecom.client import get_client, moments
from wecom.models import CorpTagLink, WecomStaff
from wecom.models import StaffStatus as WecomStaffStatus

logger = logging.getLogger(__name__)

RESOURCE = "calendar"
SYSTEM = SystemActor("rule:content-calendar")
CLAIM_BATCH = 20  # posts per step of a tick: bounded work, the rest on the next tick
JOB_FIRST_WAIT = 5  # seconds before a job's first poll; doubled each poll, at most JOB_MAX_WAIT
JOB_MAX_WAIT = 300
JOB_MAX_POLLS = 12
UNKNOWN_GRACE = dt.timedelta(minutes=2)  # a lost answer: how long WeCom may take before we read back
GROUP_CREATE = "externalcontact/add_msg_template"
GROUP_TASK = "externalcontact/get_groupmsg_task"
GROUP_CANCEL = "externalcontact/cancel_groupmsg_send"
GROUP_SENT = 2  # get_groupmsg_task: status 2 sent
UNKNOWN = "unknown"  # PostStaff.reason of a group task whose create call went unanswered
P = PostState


def publish_poll_seconds() -> int:
    return int(settings.CALENDAR_PUBLISH_POLL_SECONDS)


# --- who may act ------------------------------------------------------------------------------------


def can_plan(actor) -> bool:
    return permissions.can_write(actor, RESOURCE) and access_for(actor).reaches_any


def can_change(actor, post: PlannedPost) -> bool:
    """Operators and brand-wide keys on every post; store managers and store keys on their store's."""
    if not permissions.can_write(actor, RESOURCE):
        return False
    access = access_for(actor)
    return access.all_stores or (post.store_id is not None and access.allows_store(post.store_id))


def _require_change(actor, post: PlannedPost) -> None:
    permissions.require_write(actor, RESOURCE)
    if not access_for(actor).all_stores and post.store_id is None:
        raise Forbidden(_("A brand-wide post is changed by operators only."))
    if not can_change(actor, post):
        raise NotInScope()


# --- planning ---------------------------------------------------------------------------------------


@dataclass
class PostInput:
    """What a post is made of, as the form and the API hand it over."""

    title: str
    publish_at: dt.datetime | None
    kind: str = PostKind.MOMENT
    text: str = ""
    link_url: str = ""
    link_title: str = ""
    image_url: str = ""
    audience: str = PostAudience.STORE
    store: Store | None = None
    staff_ids: list[int] | None = None
    tag_ids: list[int] | None = None
    image_ids: list[int] | None = None


def _web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _check_content(data: PostInput, problems: dict, *, scheduling: bool, now: dt.datetime,
                   uploading: bool = False) -> None:
    if not (data.title or "").strip():
        problems["title"] = [_("Give the post a title for the calendar.")]
    elif len(data.title.strip()) > TITLE_MAX:
        problems["title"] = [_("At most %(max)d characters.") % {"max": TITLE_MAX}]
    if data.kind not in PostKind.values:
        problems["kind"] = [_("%(value)s is not one of: %(choices)s.")
                            % {"value": data.kind, "choices": ", ".join(PostKind.values)}]
    text = data.text or ""
    if not text.strip() and not data.link_url and not data.image_ids and not uploading:
        problems["text"] = [_("A post needs a text, a link or an image: WeCom refuses an empty one.")]
    elif len(text.encode("utf-8")) > TEXT_MAX_BYTES:
        problems["text"] = [_("At most %(max)d bytes (about %(chars)d Chinese characters); this text has "
                              "%(size)d.") % {"max": TEXT_MAX_BYTES, "chars": TEXT_MAX_BYTES // 3,
                                              "size": len(text.encode("utf-8"))}]
    for name in ("link_url", "image_url"):
        value = getattr(data, name) or ""
        if value and not _web_url(value):
            problems[name] = [_("An http:// or https:// address.")]
    if len(data.link_title or "") > TITLE_MAX:
        problems["link_title"] = [_("At most %(max)d characters.") % {"max": TITLE_MAX}]
    when = data.publish_at
    if not isinstance(when, dt.datetime) or timezone.is_naive(when):
        problems["publish_at"] = [_("A date and time with its time zone.")]
    elif scheduling and when < now - dt.timedelta(minutes=1):
        local = timezone.localtime(when).strftime("%Y-%m-%d %H:%M")
        problems["publish_at"] = [_("%(when)s has passed: choose a time to come.") % {"when": local}]


def _check_store(actor, data: PostInput, problems: dict) -> Store | None:
    """The post's store: a store role's own (whatever was asked, unless another store was named,
    which is refused); an operator's choice, or brand-wide."""
    access = access_for(actor)
    if data.audience not in PostAudience.values:
        problems["audience"] = [_("%(value)s is not one of: %(choices)s.")
                                % {"value": data.audience, "choices": ", ".join(PostAudience.values)}]
        return data.store
    if access.all_stores:
        if data.audience == PostAudience.STORE and data.store is None:
            problems["store"] = [_("Name the store whose staff post it.")]
        return data.store
    if data.store is not None and data.store.pk != access.store_id:
        problems["store"] = [_("You plan posts for your own store only.")]
        return data.store
    if data.audience == PostAudience.ALL:
        problems["audience"] = [_("Only operators plan a post for all staff; choose your store's staff.")]
    return Store.objects.filter(pk=access.store_id).first()


def _check_staff(actor, data: PostInput, store: Store | None, problems: dict) -> list[int]:
    ids = sorted({int(i) for i in (data.staff_ids or [])})
    if data.audience != PostAudience.STAFF:
        return []
    if not ids:
        problems["staff"] = [_("Choose the staff who post it.")]
        return []
    if len(ids) > MAX_SENDERS:
        problems["staff"] = [_("At most %(max)d staff per post.") % {"max": MAX_SENDERS}]
        return ids
    users = {u.pk: u for u in User.objects.filter(pk__in=ids).select_related("wecom")}
    access = access_for(actor)
    found = []
    for pk in ids:
        user = users.get(pk)
        if user is None or not access.allows_store(user.store_id) and not access.all_stores:
            found.append(_("No staff member %(id)s in your reach.") % {"id": pk})
        elif store is not None and user.store_id != store.pk:
            found.append(_("%(name)s is not staff of %(store)s.") % {"name": user, "store": store.name})
        elif not user.is_active:
            found.append(_("%(name)s has left (the account is deactivated).") % {"name": user})
        elif getattr(user, "wecom", None) is None or user.wecom.status != WecomStaffStatus.ACTIVE:
            found.append(_("%(name)s has no active WeCom account linked, so WeCom cannot ask them to post.")
                         % {"name": user})
    if found:
        problems["staff"] = found
    return ids


def _check_tags(data: PostInput, problems: dict) -> list[int]:
    ids = sorted({int(i) for i in (data.tag_ids or [])})
    if not ids:
        return []
    if data.kind == PostKind.GROUP:
        problems["tags"] = [_("A customer-group post reaches each sender's groups; visibility tags are for "
                              "Moments.")]
        return ids
    if len(ids) > MAX_TAGS:
        problems["tags"] = [_("At most %(max)d tags.") % {"max": MAX_TAGS}]
        return ids
    tags = {t.pk: t for t in Tag.objects.filter(pk__in=ids)}
    linked = set(CorpTagLink.objects.filter(tag_id__in=ids, unlinked_at__isnull=True).values_list("tag_id", flat=True))
    found = []
    for pk in ids:
        if pk not in tags:
            found.append(_("No tag %(id)s.") % {"id": pk})
        elif pk not in linked:
            found.append(_("%(tag)s is not a WeCom corp tag (sync its group to WeCom first).") % {"tag": tags[pk].name})
    if found:
        problems["tags"] = found
    return ids


def _check_images(actor, data: PostInput, store: Store | None, problems: dict, *, uploading: int = 0) -> list[int]:
    """The post's images: campaign images the actor sees, of the post's store or brand-wide, at most
    MAX_IMAGES with the `uploading` new ones; a Moment carries images or a link, not both
    (add_moment_task)."""
    from campaigns.models import CampaignImage

    ids = data.image_ids or []
    if not isinstance(ids, list | tuple) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        problems["images"] = [_("A list of uploaded image ids.")]
        return []
    ids = list(dict.fromkeys(ids))
    if not ids and not uploading:
        return []
    found = {i.pk: i for i in CampaignImage.objects.visible_to(actor).filter(pk__in=ids)}
    errors = []
    if len(ids) + uploading > MAX_IMAGES:
        errors.append(_("%(count)d images; WeCom takes at most %(max)d.")
                      % {"count": len(ids) + uploading, "max": MAX_IMAGES})
    for n, pk in enumerate(ids, start=1):
        image = found.get(pk)
        if image is None:
            errors.append(_("Image %(n)d: no image %(id)d (upload it first).") % {"n": n, "id": pk})
        elif image.store_id is not None and image.store_id != getattr(store, "pk", None):
            errors.append(_("Image %(n)d: it belongs to another store.") % {"n": n})
    if data.kind == PostKind.MOMENT and data.link_url:
        errors.append(_("A Moment carries up to %(max)d images or one link, not both.") % {"max": MAX_IMAGES})
    if data.kind == PostKind.GROUP and len(ids) + uploading + bool(data.link_url) > MAX_IMAGES:
        errors.append(_("A customer-group post carries at most %(max)d attachments, the link included.")
                      % {"max": MAX_IMAGES})
    if errors:
        problems["images"] = errors
    return ids


def _upload(actor, files, store: Store | None) -> list:
    """Keep uploaded files as campaign images (campaigns.services.attachments.upload_image: JPG or PNG
    by their bytes, more than 5 bytes, at most 10 MB), at most MAX_IMAGES at once. One refused: its
    error under "images" naming the file, and none kept (the caller's transaction rolls the rows
    back; the files kept so far are removed here)."""
    from campaigns.services import attachments

    if len(files) > MAX_IMAGES:
        raise InvalidInput(details={"images": [_("%(count)d images; WeCom takes at most %(max)d.")
                                               % {"count": len(files), "max": MAX_IMAGES}]})
    kept = []
    for file in files:
        try:
            kept.append(attachments.upload_image(actor=actor, file=file, store=store))
        except InvalidInput as exc:
            for image in kept:
                attachments.discard_file(image)
            problems = (exc.details or {}).get("file") or [str(exc)]
            name = getattr(file, "name", "") or _("image")
            raise InvalidInput(details={"images": [f"{name}: {p}" for p in problems]}) from None
    return kept


def images_of(post: PlannedPost) -> list:
    """The post's images, in its order (those still there)."""
    from campaigns.models import CampaignImage

    found = CampaignImage.objects.in_bulk(list(post.image_ids))
    return [found[pk] for pk in post.image_ids if pk in found]


def _emit_state(post: PlannedPost) -> None:
    events.emit("content_post.state_changed", store_id=post.store_id,
                data={"post": {"id": post.pk}, "kind": post.kind, "state": post.state,
                      "publish_at": post.publish_at.isoformat(), "error": post.error[:200]})


def save_post(*, actor, data: PostInput, post: PlannedPost | None = None, schedule: bool = True,
              files=()) -> PlannedPost:
    """Create (`post` None) or edit a draft or scheduled post; `schedule` False keeps it a draft.
    `files`: new images (the form's uploads), kept as campaign images after the post's images, in the
    same transaction: a refused post keeps none of them."""
    permissions.require_write(actor, RESOURCE)
    if post is not None:
        _require_change(actor, post)
    now = timezone.now()
    files = list(files or [])
    problems: dict[str, list] = {}
    _check_content(data, problems, scheduling=schedule, now=now, uploading=bool(files))
    store = _check_store(actor, data, problems)
    staff_ids = _check_staff(actor, data, store, problems)
    tag_ids = _check_tags(data, problems)
    image_ids = _check_images(actor, data, store, problems, uploading=len(files))
    if problems:
        raise InvalidInput(details=problems)
    if not files:
        return _write_post(actor=actor, post=post, now=now, schedule=schedule, values={
            "store": store, "staff_ids": staff_ids, "tag_ids": tag_ids, "image_ids": image_ids}, data=data)
    from campaigns.services import attachments

    kept: list = []
    try:
        with transaction.atomic():
            kept = _upload(actor, files, store)
            return _write_post(actor=actor, post=post, now=now, schedule=schedule, data=data, values={
                "store": store, "staff_ids": staff_ids, "tag_ids": tag_ids,
                "image_ids": [*image_ids, *(image.pk for image in kept)]})
    except Exception:
        for image in kept:  # their rows rolled back: their files go too
            attachments.discard_file(image)
        raise


def _write_post(*, actor, post: PlannedPost | None, now: dt.datetime, schedule: bool, values: dict,
                data: PostInput) -> PlannedPost:
    row = {
        **values, "kind": data.kind, "title": data.title.strip(), "publish_at": data.publish_at,
        "text": data.text or "", "link_url": data.link_url or "", "link_title": (data.link_title or "").strip(),
        "image_url": data.image_url or "", "audience": data.audience, "state": P.SCHEDULED if schedule else P.DRAFT,
        "next_poll_at": data.publish_at if schedule else None,
        "updated_at": now, "error": "",
    }
    with transaction.atomic():
        if post is None:
            post = PlannedPost.objects.create(**row, created_by=actors.actor_user(actor),
                                              created_by_label=actors.actor_label(actor), created_at=now)
        else:
            changed = PlannedPost.objects.filter(pk=post.pk, state__in=[P.DRAFT, P.SCHEDULED]).update(**row)
            if not changed:
                post.refresh_from_db()
                raise Conflict(_("This post is %(state)s: it can no longer be edited.")
                               % {"state": post.get_state_display().lower()}, details={"state": [post.state]},
                               code="post_not_editable")
            post.refresh_from_db()
        _emit_state(post)
    return post


def cancel_post(*, actor, post: PlannedPost, client=None) -> PlannedPost:
    """Cancel a post. Idempotent: a cancelled post answers as it is. A post WeCom has is stopped there
    too (senders who posted keep their post); a post whose day is over cannot be cancelled."""
    _require_change(actor, post)
    now = timezone.now()
    with transaction.atomic():
        changed = PlannedPost.objects.filter(
            pk=post.pk, state__in=[P.DRAFT, P.SCHEDULED, P.SUBMITTED, P.CREATED], closed_at__isnull=True,
        ).update(state=P.CANCELLED, cancelled_at=now, updated_at=now, next_poll_at=now)
        post.refresh_from_db()
        if not changed:
            if post.state == P.CANCELLED:
                return post
            raise Conflict(_("This post is %(state)s: it can no longer be cancelled.")
                           % {"state": post.get_state_display().lower()}, details={"state": [post.state]},
                           code="post_not_cancellable")
        _emit_state(post)
        _close_tasks(post, note=_("The post was cancelled."), skip=True)
    _stop_in_wecom(post, client=client)
    post.refresh_from_db()
    return post


def _stop_in_wecom(post: PlannedPost, *, client=None) -> None:
    """Stop what WeCom has of a cancelled post; a failure is recorded on the post (it stays cancelled
    in Siyu and the page says WeCom may still show it)."""
    try:
        if post.kind == PostKind.MOMENT:
            moment_id = post.moment_id
            if not moment_id and post.jobid:
                # Cancelled while WeCom was still making it: its Moment is stopped once the job is done.
                result = moments.task_result(post.jobid, client=client)
                if not result.done:
                    PlannedPost.objects.filter(pk=post.pk).update(
                        next_poll_at=timezone.now() + dt.timedelta(seconds=JOB_FIRST_WAIT * 4))
                    return
                moment_id = result.moment_id
                PlannedPost.objects.filter(pk=post.pk).update(moment_id=moment_id[:128])
            if moment_id:
                moments.cancel(moment_id, client=client)
        elif post.kind == PostKind.GROUP:
            wecom = None
            for msgid in PostStaff.objects.filter(post=post).exclude(msgid="").values_list("msgid", flat=True):
                wecom = wecom or client or get_client()
                wecom.post(GROUP_CANCEL, {"msgid": msgid})
    except wecom_errors.WecomError as exc:
        PlannedPost.objects.filter(pk=post.pk).update(
            error=(_("Cancelled here, but WeCom could not be told: %(error)s") % {"error": exc})[:ERROR_MAX])
        return
    PlannedPost.objects.filter(pk=post.pk).update(closed_at=timezone.now(), next_poll_at=None)


def settle_cancelled(*, now: dt.datetime, client) -> int:
    """Cancelled posts WeCom may still have (a job that was running, a failed stop): stopped there."""
    claimed = _claim(P.CANCELLED, now, extra="AND closed_at IS NULL", push=dt.timedelta(seconds=60))
    for post in PlannedPost.objects.filter(pk__in=claimed):
        _stop_in_wecom(post, client=client)
    return len(claimed)


# --- the tick ---------------------------------------------------------------------------------------


def end_of_day(moment: dt.datetime) -> dt.datetime:
    """The end of `moment`'s day in the brand's time zone (its next local midnight)."""
    local = timezone.localtime(moment)
    tomorrow = local.date() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(tomorrow, dt.time.min), timezone.get_current_timezone())


def _claim(state: str, now: dt.datetime, *, extra: str = "", push: dt.timedelta, limit: int = CLAIM_BATCH) -> list[int]:
    """Posts in `state` whose next_poll_at is due, claimed by moving it `push` ahead (SKIP LOCKED):
    another worker's tick skips them until then."""
    table = PlannedPost._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_poll_at = %s WHERE id IN (SELECT id FROM {table} WHERE state = %s "
            f"AND next_poll_at <= %s {extra} ORDER BY next_poll_at, id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
            [now + push, state, now, limit])
        return sorted(row[0] for row in cursor.fetchall())


def tick(*, now: dt.datetime | None = None, client=None) -> dict[str, int]:
    """One round of the calendar's work; safe beside other workers' and when WeCom is away."""
    now = now or timezone.now()
    done = {"submitted": 0, "jobs_polled": 0, "publish_polled": 0, "cancelled": 0}
    try:
        client = client or get_client()
    except wecom_errors.NotConfigured:
        return done
    done["submitted"] = submit_due(now=now, client=client)
    done["jobs_polled"] = poll_jobs(now=now, client=client)
    done["publish_polled"] = poll_publish(now=now, client=client)
    done["cancelled"] = settle_cancelled(now=now, client=client)
    return done


# 1. submitting ---------------------------------------------------------------------------------------


def submit_due(*, now: dt.datetime, client) -> int:
    table = PlannedPost._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET state = 'submitted', submitted_at = %s, updated_at = %s, next_poll_at = %s, "
            f"poll_until = NULL WHERE id IN (SELECT id FROM {table} WHERE state = 'scheduled' AND publish_at <= %s "
            "ORDER BY publish_at, id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
            [now, now, now, now, CLAIM_BATCH])
        claimed = sorted(row[0] for row in cursor.fetchall())
        for post in PlannedPost.objects.filter(pk__in=claimed):
            PlannedPost.objects.filter(pk=post.pk).update(poll_until=end_of_day(post.publish_at))
            write_senders(post)
            post.refresh_from_db()
            _emit_state(post)
    # Submitted posts still to hand over: just claimed, a group post's senders left by a rate limit,
    # a Moment whose create call went unanswered.
    pending = _claim(P.SUBMITTED, now, extra="AND jobid = ''", push=dt.timedelta(seconds=JOB_MAX_WAIT))
    for post in PlannedPost.objects.filter(pk__in=pending):
        try:
            if post.kind == PostKind.MOMENT:
                _submit_moment(post, now=now, client=client)
            else:
                _submit_group(post, now=now, client=client)
        except wecom_errors.WecomError as exc:  # rate-limited or unreachable: the next tick goes on
            logger.info("calendar post %s: %s; the next tick goes on", post.pk, exc)
            PlannedPost.objects.filter(pk=post.pk).update(next_poll_at=now + dt.timedelta(seconds=60))
            break
    return len(claimed)


def write_senders(post: PlannedPost) -> int:
    """One row per sender, in one INSERT ... SELECT: the chosen staff, the store's or all staff with
    a WeCom account; chosen staff who left or have no WeCom account since are recorded as left out."""
    users = User._meta.db_table
    wecom = WecomStaff._meta.db_table
    rows = PostStaff._meta.db_table
    where, params = "u.is_active AND w.status = 'active'", []
    if post.audience == PostAudience.STAFF:
        where, params = "u.id = ANY(%s)", [list(post.staff_ids)]
    elif post.audience == PostAudience.STORE:
        where, params = f"{where} AND u.store_id = %s", [post.store_id]
    left = _("Left the brand (account deactivated).")
    no_wecom = _("No active WeCom account linked.")
    sql = (
        f"INSERT INTO {rows} (post_id, user_id, store_id, name, userid, status, reason, msgid) "
        "SELECT %s, u.id, u.store_id, COALESCE(NULLIF(u.display_name, ''), u.username), "
        "CASE WHEN u.is_active AND w.status = 'active' THEN w.userid ELSE '' END, "
        "CASE WHEN u.is_active AND w.status = 'active' THEN 'pending' ELSE 'skipped' END, "
        "CASE WHEN NOT u.is_active THEN %s WHEN w.id IS NULL OR w.status <> 'active' THEN %s ELSE '' END, '' "
        f"FROM {users} u LEFT JOIN {wecom} w ON w.user_id = u.id WHERE {where} ORDER BY u.id LIMIT %s "
        "ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [post.pk, left, no_wecom, *params, MAX_SENDERS])
        return cursor.rowcount


def _fail(post: PlannedPost, message: str, *, now: dt.datetime) -> None:
    with transaction.atomic():
        PlannedPost.objects.filter(pk=post.pk).update(state=P.FAILED, error=message[:ERROR_MAX], updated_at=now,
                                                      next_poll_at=None, closed_at=now)
        post.refresh_from_db()
        _emit_state(post)


def _submit_moment(post: PlannedPost, *, now: dt.datetime, client) -> None:
    senders = list(PostStaff.objects.filter(post=post, status=StaffStatus.PENDING).exclude(userid="")
                   .order_by("id").values_list("userid", flat=True))
    if not senders:
        _fail(post, _("No one can post it: every sender left or has no WeCom account."), now=now)
        return
    if post.error == UNKNOWN and _adopt_lost(post, now=now, client=client):
        return
    tags = list(CorpTagLink.objects.filter(tag_id__in=post.tag_ids, unlinked_at__isnull=True)
                .order_by("wecom_tag_id").values_list("wecom_tag_id", flat=True))
    media = _moment_media(post, now=now, client=client)
    if media is None:
        return
    request = moments.body(text=post.text, link_url=post.link_url, link_title=post.link_title,
                           senders=senders, tag_ids=tags, image_media_ids=media)
    try:
        jobid = moments.add_task(request, client=client)
    except wecom_errors.Unavailable:
        # Outcome unknown: WeCom may have the task. Read back before any new create (see _adopt_lost).
        PlannedPost.objects.filter(pk=post.pk).update(error=UNKNOWN, next_poll_at=now + UNKNOWN_GRACE)
        return
    except (wecom_errors.RateLimited, wecom_errors.CredentialsRejected):
        raise
    except wecom_errors.WecomError as exc:
        _fail(post, _("WeCom refused the Moment: %(error)s") % {"error": exc}, now=now)
        return
    if not jobid:
        _fail(post, _("WeCom answered without a job id."), now=now)
        return
    PlannedPost.objects.filter(pk=post.pk).update(jobid=jobid[:128], error="", polls=0,
                                                  next_poll_at=now + dt.timedelta(seconds=JOB_FIRST_WAIT))


def _image_problem(post: PlannedPost, images: list, *, now: dt.datetime) -> bool:
    if len(images) != len(post.image_ids):
        _fail(post, _("An image of the post is gone; upload it again."), now=now)
        return True
    return False


def _moment_media(post: PlannedPost, *, now: dt.datetime, client) -> list[str] | None:
    """The media ids of the post's images, uploaded now as Moment attachments (media/upload_attachment);
    None when WeCom refused one (the post failed, naming it). Unreachable or rate-limited: raised, and
    the next tick uploads again (nothing was created yet)."""
    from campaigns.services import attachments

    images = images_of(post)
    if _image_problem(post, images, now=now):
        return None
    media = []
    for image in images:
        try:
            media.append(moments.upload_image(filename=image.name, content=attachments.read_image(image),
                                              content_type=image.content_type, client=client))
        except (wecom_errors.Unavailable, wecom_errors.RateLimited, wecom_errors.CredentialsRejected):
            raise
        except wecom_errors.WecomError as exc:
            _fail(post, _("WeCom refused the image %(name)s: %(error)s") % {"name": image.name, "error": exc},
                  now=now)
            return None
    return media


def _adopt_lost(post: PlannedPost, *, now: dt.datetime, client) -> bool:
    """A create call went unanswered: a Moment of the corp's with this text, created since the post
    was submitted, is this post's (adopted, the job skipped); none after the grace: False, create."""
    start = int((post.submitted_at or now).timestamp()) - 60
    for row in moments.list_moments(start_time=start, end_time=int(now.timestamp()) + 60, client=client):
        if (row.get("text") or {}).get("content", "") == post.text and row.get("moment_id"):
            _created(post, moment_id=str(row["moment_id"]), invalid=(), now=now)
            return True
    return False


def _group_attachments(post: PlannedPost, *, now: dt.datetime, client) -> list | None:
    """add_msg_template's attachments: the images (temporary media, kept on each image for three days
    and reused: campaigns.services.attachments.media_id), then the link; None when WeCom refused an
    image (the post failed)."""
    from campaigns.services import attachments

    out = []
    images = images_of(post)
    if _image_problem(post, images, now=now):
        return None
    for image in images:
        try:
            out.append({"msgtype": "image", "image": {"media_id": attachments.media_id(image, client=client,
                                                                                      now=now)}})
        except (wecom_errors.Unavailable, wecom_errors.RateLimited, wecom_errors.CredentialsRejected):
            raise
        except wecom_errors.WecomError as exc:
            _fail(post, _("WeCom refused the image %(name)s: %(error)s") % {"name": image.name, "error": exc},
                  now=now)
            return None
    if post.link_url:
        out.append({"msgtype": "link", "link": {"title": post.link_title or post.title, "url": post.link_url}})
    return out


def _submit_group(post: PlannedPost, *, now: dt.datetime, client) -> None:
    """One add_msg_template (chat_type group) per sender still without a task; its answer is written
    at once, so a crash loses at most the call in flight (recorded as unknown, never made twice)."""
    rows = list(PostStaff.objects.filter(post=post, status=StaffStatus.PENDING, msgid="").exclude(userid="")
                .exclude(reason=UNKNOWN).order_by("id"))
    attachments = _group_attachments(post, now=now, client=client) if rows else []
    if attachments is None:
        return
    for row in rows:
        # The intent, committed before the call: a crash or a lost answer leaves it unknown, not re-sent.
        PostStaff.objects.filter(pk=row.pk).update(reason=UNKNOWN)
        body = {"chat_type": "group", "sender": row.userid, "text": {"content": post.text}}
        if attachments:
            body["attachments"] = attachments
        try:
            answer = client.post(GROUP_CREATE, body)
        except wecom_errors.Unavailable:
            continue
        except (wecom_errors.RateLimited, wecom_errors.CredentialsRejected):
            PostStaff.objects.filter(pk=row.pk).update(reason="")  # nothing was made: the next tick tries
            raise
        except wecom_errors.WecomError as exc:
            PostStaff.objects.filter(pk=row.pk).update(status=StaffStatus.REFUSED, reason=str(exc)[:ERROR_MAX],
                                                       checked_at=now)
            continue
        msgid = str(answer.get("msgid") or "")[:64]
        if msgid:
            PostStaff.objects.filter(pk=row.pk).update(msgid=msgid, reason="", checked_at=now)
        else:
            PostStaff.objects.filter(pk=row.pk).update(status=StaffStatus.REFUSED, checked_at=now,
                                                       reason=_("WeCom made no task: this sender has no customer "
                                                                "groups."))
    if PostStaff.objects.filter(post=post).exclude(msgid="").exists():
        _created(post, moment_id="", invalid=(), now=now)
    elif not PostStaff.objects.filter(post=post, status=StaffStatus.PENDING, reason=UNKNOWN).exists():
        _fail(post, _("WeCom made no customer-group task for any sender."), now=now)
    elif post.poll_until is not None and now >= post.poll_until:
        _fail(post, _("WeCom never answered for these senders; check their tasks in WeCom."), now=now)
    else:
        PlannedPost.objects.filter(pk=post.pk).update(error=_("WeCom did not answer for some senders; check "
                                                              "their tasks in WeCom before sending again."))


# 2. the job ---------------------------------------------------------------------------------------------


def poll_jobs(*, now: dt.datetime, client) -> int:
    claimed = _claim(P.SUBMITTED, now, extra="AND jobid <> ''", push=dt.timedelta(seconds=JOB_MAX_WAIT))
    polled = 0
    for post in PlannedPost.objects.filter(pk__in=claimed):
        try:
            result = moments.task_result(post.jobid, client=client)
        except wecom_errors.WecomError as exc:
            if not exc.retryable:
                _fail(post, _("WeCom does not know the job: %(error)s") % {"error": exc}, now=now)
                continue
            logger.info("calendar post %s: job not readable (%s); next tick", post.pk, exc)
            PlannedPost.objects.filter(pk=post.pk).update(next_poll_at=now + dt.timedelta(seconds=60))
            break
        polled += 1
        _apply_job(post, result, now=now)
    return polled


def _apply_job(post: PlannedPost, result: moments.JobResult, *, now: dt.datetime) -> None:
    polls = post.polls + 1
    if not result.done:
        if polls >= JOB_MAX_POLLS:
            _fail(post, _("WeCom had not created the task after %(n)d polls.") % {"n": polls}, now=now)
            return
        wait = min(JOB_FIRST_WAIT * 2 ** polls, JOB_MAX_WAIT)
        PlannedPost.objects.filter(pk=post.pk).update(polls=polls, next_poll_at=now + dt.timedelta(seconds=wait))
        return
    PlannedPost.objects.filter(pk=post.pk).update(polls=polls)
    if result.errcode or not result.moment_id:
        with transaction.atomic():
            _refuse(post, result.invalid_senders, now=now)
            refused = ", ".join(result.invalid_senders)
            message = _("WeCom refused the task: errcode %(code)s %(msg)s") % {"code": result.errcode,
                                                                                  "msg": result.errmsg}
            if refused:
                message += " · " + _("senders refused: %(list)s") % {"list": refused}
            _fail(post, message, now=now)
        return
    _created(post, moment_id=result.moment_id, invalid=result.invalid_senders, now=now,
             invalid_tags=result.invalid_tags)


def _refuse(post: PlannedPost, userids, *, now: dt.datetime) -> int:
    if not userids:
        return 0
    return PostStaff.objects.filter(post=post, userid__in=list(userids), status=StaffStatus.PENDING).update(
        status=StaffStatus.REFUSED, checked_at=now,
        reason=_("WeCom refused this sender (left WeCom, or no customer contact)."))


def _created(post: PlannedPost, *, moment_id: str, invalid, now: dt.datetime, invalid_tags=()) -> None:
    note = ""
    if invalid_tags:
        note = _("WeCom did not know these tags: %(list)s") % {"list": ", ".join(invalid_tags)}
    with transaction.atomic():
        _refuse(post, invalid, now=now)
        changed = PlannedPost.objects.filter(pk=post.pk, state=P.SUBMITTED).update(
            state=P.CREATED, moment_id=moment_id[:128], created_in_wecom_at=now, updated_at=now, error=note,
            next_poll_at=now + dt.timedelta(seconds=JOB_FIRST_WAIT))
        if not changed:
            return
        post.refresh_from_db()
        _emit_state(post)
        _make_tasks(post)


# 3. publish status ----------------------------------------------------------------------------------------


def poll_publish(*, now: dt.datetime, client) -> int:
    claimed = _claim(P.CREATED, now, extra="AND closed_at IS NULL",
                     push=dt.timedelta(seconds=publish_poll_seconds()))
    polled = 0
    for post in PlannedPost.objects.filter(pk__in=claimed):
        try:
            posted = _posted_now(post, client=client)
        except wecom_errors.WecomError as exc:
            logger.info("calendar post %s: publish status not readable (%s); next poll", post.pk, exc)
            if not exc.retryable:
                continue
            break
        polled += 1
        record_posted(post, posted, now=now)
        if post.poll_until is not None and now >= post.poll_until:
            PlannedPost.objects.filter(pk=post.pk).update(closed_at=now, next_poll_at=None)
    return polled


def _posted_now(post: PlannedPost, *, client) -> set[str]:
    if post.kind == PostKind.MOMENT:
        return {userid for userid, posted in moments.publish_status(post.moment_id, client=client) if posted}
    posted = set()
    for userid, msgid in PostStaff.objects.filter(post=post, status=StaffStatus.PENDING).exclude(msgid="") \
            .values_list("userid", "msgid"):
        for answer in client.pages(GROUP_TASK, {"msgid": msgid, "limit": 1000}):
            if any(r.get("userid") == userid and r.get("status") == GROUP_SENT for r in answer.get("task_list") or []):
                posted.add(userid)
    return posted


def record_posted(post: PlannedPost, userids: set[str], *, now: dt.datetime) -> int:
    """Senders WeCom says posted: one UPDATE of the pending rows, their events, their tasks done;
    every pending row is marked checked."""
    rows = PostStaff._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {rows} SET status = 'posted', posted_at = %s, checked_at = %s "
                "WHERE post_id = %s AND status = 'pending' AND userid = ANY(%s) RETURNING user_id, store_id",
                [now, now, post.pk, sorted(userids)])
            changed = cursor.fetchall()
            cursor.execute(f"UPDATE {rows} SET checked_at = %s WHERE post_id = %s AND status = 'pending'",
                           [now, post.pk])
        if changed:
            events.emit_many("content_post.staff_posted",
                             [(None, store_id, {"post": {"id": post.pk}, "staff": {"id": user_id}})
                              for user_id, store_id in changed])
            _close_tasks(post, user_ids=[u for u, _s in changed if u], note=_("Posted in WeCom."))
    return len(changed)


# --- staff tasks -----------------------------------------------------------------------------------------


def _dedupe(post_id: int, user_id: int) -> str:
    return f"calendar:{post_id}:{user_id}"


def _make_tasks(post: PlannedPost) -> int:
    """A task for each sender still to post who is active staff of a store ("post today's Moment")."""
    from journeys.models import TaskKind, TaskPolicy
    from journeys.services import tasks

    senders = PostStaff.objects.filter(post=post, status=StaffStatus.PENDING, user__is_active=True,
                                       user__role__in=STORE_ROLES, store__isnull=False) \
        .filter(user__store_id=F("store_id"))
    code = "post_moment" if post.kind == PostKind.MOMENT else "post_group"
    due = post.poll_until or end_of_day(post.publish_at)
    priority = TaskPolicy.current().priority_for(TaskKind.CONFIRM_WECOM_SEND)  # the brand's, at /tasks/settings/
    rows = [tasks.TaskRow(kind=TaskKind.CONFIRM_WECOM_SEND, store_id=s.store_id, assignee_id=s.user_id, code=code,
                          params={"post": post.pk, "title": post.title}, due_at=due, priority=priority,
                          dedupe_key=_dedupe(post.pk, s.user_id))
            for s in senders.order_by("id")[:MAX_SENDERS]]
    if not rows:
        return 0
    return tasks.create_tasks(rows=rows, actor=SYSTEM, source="rule").created


def _close_tasks(post: PlannedPost, *, user_ids=None, note: str, skip: bool = False) -> int:
    """The posters' open tasks of this post: done once they posted, skipped when the post is cancelled."""
    from journeys.models import Task, TaskOutcome, TaskState
    from journeys.services import tasks

    keys = Task.objects.filter(state=TaskState.OPEN, dedupe_key__startswith=f"calendar:{post.pk}:")
    if user_ids is not None:
        keys = keys.filter(dedupe_key__in=[_dedupe(post.pk, u) for u in user_ids])
    closed = 0
    for task in keys.order_by("pk")[:MAX_SENDERS]:
        if skip:
            tasks.skip(task=task, actor=SYSTEM, reason=note)
        else:
            tasks.complete(task=task, actor=SYSTEM, outcome=TaskOutcome.OTHER, note=note)
        closed += 1
    return closed
