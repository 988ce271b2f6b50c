"""Posts and their metrics: record a creator's post by its link (unique across the brand by its
normalised key), and the counters read from it over time (cumulative: a snapshot never lower than
the one before it nor higher than the one after it). The newest snapshot's counters and what the
formula makes of them are copied onto the post in the same transaction.

Who: anyone with koc_posts:write (store managers and clerks, within their store; operators; keys).
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from koc.models import (
    Creator,
    CreatorStatus,
    MetricSnapshot,
    MetricSource,
    Participation,
    Post,
    PostSource,
    Topic,
    TopicStatus,
)
from koc.services import formula, links
from scrm import actors
from scrm.errors import Conflict, InvalidInput, NotInScope
from scrm.permissions import require_write
from scrm.scoping import scope

COUNTERS = ("views", "likes", "saves", "comments", "shares", "followers_gained")
MAX_COUNTER = 10**15  # far above any post's reach, well within a bigint
MAX_BATCH = 1000


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _visible_creator(actor, creator) -> Creator:
    found = scope(Creator.objects.select_related("level", "member"), actor).filter(
        pk=getattr(creator, "pk", creator)).first()
    if found is None:
        raise NotInScope(_("No such creator, or not yours to reach."), details={"creator": [getattr(creator, "pk",
                                                                                                    creator)]})
    return found


def _check_datetime(value, field: str, errors: dict) -> bool:
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        errors[field] = [_("A date and time with its time zone.")]
        return False
    if value > timezone.now():
        errors[field] = [_("%(when)s is in the future.") % {"when": _when(value)}]
        return False
    return True


def topic_problem(topic: Topic, creator: Creator, platform: str | None = None) -> str | None:
    """Why `creator` may not post for (or join) `topic` on `platform`, or None."""
    if topic.status != TopicStatus.OPEN:
        return _("The topic “%(title)s” is %(status)s, not open.") % {
            "title": topic.title, "status": topic.get_status_display()}
    if platform and topic.platforms and platform not in topic.platforms:
        return _("The topic “%(title)s” is for %(platforms)s only.") % {
            "title": topic.title, "platforms": ", ".join(topic.platforms)}
    if topic.min_level_id is not None:
        rank = creator.level.rank if creator.level_id else 0
        if rank < topic.min_level.rank:
            return _("The topic “%(title)s” is open from the level %(level)s; the creator is %(current)s.") % {
                "title": topic.title, "level": topic.min_level.name,
                "current": creator.level.name if creator.level_id else _("not yet at a level")}
    return None


def _duplicate(url_key: str) -> Conflict:
    existing = Post.objects.filter(url_key=url_key).values_list("pk", flat=True).first()
    return Conflict(_("This post is already recorded (post %(id)s).") % {"id": existing}, code="post_exists",
                    details={"url": [_("Already recorded as post %(id)s.") % {"id": existing}], "post": existing})


@transaction.atomic
def record_post(*, creator, actor, url, published_at, platform=None, title="", topic_id=None,
                source=PostSource.STAFF) -> Post:
    """Record a creator's post by its link. The same post twice (however its link is spelt) is a
    Conflict naming the post already recorded; a creator who left cannot post."""
    require_write(actor, "koc_posts")
    creator = _visible_creator(actor, creator)
    errors: dict = {}
    found_platform = url_key = None
    try:
        found_platform, url_key = links.classify(url, platform)
    except InvalidInput as exc:
        errors.update(exc.details)
    _check_datetime(published_at, "published_at", errors)
    title = (title or "").strip()
    if len(title) > 200:
        errors["title"] = [_("At most 200 characters.")]
    if source not in PostSource.values:
        errors["source"] = [_("Unknown source “%(source)s”.") % {"source": source}]
    topic = None
    if topic_id is not None:
        topic = Topic.objects.select_related("min_level").filter(pk=topic_id).first()
        if topic is None:
            errors["topic"] = [_("No topic %(id)s.") % {"id": topic_id}]
        elif problem := topic_problem(topic, creator, found_platform):
            errors["topic"] = [problem]
    if errors:
        raise InvalidInput(details=errors)
    if creator.status == CreatorStatus.LEFT:
        raise Conflict(_("%(name)s left the programme: they cannot post for it.") % {"name": creator.member.name},
                       code="creator_left", details={"creator": [creator.pk]})
    if Post.objects.filter(url_key=url_key).exists():
        raise _duplicate(url_key)
    post = Post(creator=creator, platform=found_platform, url=url.strip(), url_key=url_key, title=title, topic=topic,
                published_at=published_at, source=source, submitted_by=actors.actor_user(actor))
    formula.apply(post)
    try:
        with transaction.atomic():
            post.save(force_insert=True)
    except IntegrityError:  # recorded by someone else between the check and the insert
        raise _duplicate(url_key) from None
    if topic is not None:
        Participation.objects.get_or_create(topic=topic, creator=creator)
    return post


def _counter_errors(values: dict) -> dict:
    errors = {}
    for name in COUNTERS:
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNTER:
            errors[name] = [_("A whole number from 0 to %(max)s.") % {"max": MAX_COUNTER}]
    return errors


def _record_locked(post: Post, *, actor, taken_at, values: dict, source: str) -> MetricSnapshot:
    """Record one snapshot of a post already locked (SELECT … FOR UPDATE) by the caller."""
    errors = _counter_errors(values)
    if source not in MetricSource.values:
        errors["source"] = [_("Unknown source “%(source)s”.") % {"source": source}]
    if _check_datetime(taken_at, "taken_at", errors) and taken_at < post.published_at:
        errors["taken_at"] = [_("%(when)s is before the post was published (%(published)s).") % {
            "when": _when(taken_at), "published": _when(post.published_at)}]
    if errors:
        raise InvalidInput(details=errors)
    snapshots = MetricSnapshot.objects.filter(post=post)
    same = snapshots.filter(taken_at=taken_at).values_list("pk", flat=True).first()
    if same is not None:
        raise Conflict(_("The post already has a snapshot taken at %(when)s.") % {"when": _when(taken_at)},
                       code="snapshot_exists", details={"taken_at": [_("Already recorded (snapshot %(id)s).")
                                                                     % {"id": same}], "snapshot": same})
    before = snapshots.filter(taken_at__lt=taken_at).order_by("-taken_at").first()
    after = snapshots.filter(taken_at__gt=taken_at).order_by("taken_at").first()
    for name in COUNTERS:
        if before is not None and values[name] < getattr(before, name):
            errors[name] = [_("%(name)s cannot go down: %(earlier)s were recorded at %(when)s.") % {
                "name": name, "earlier": getattr(before, name), "when": _when(before.taken_at)}]
        elif after is not None and values[name] > getattr(after, name):
            errors[name] = [_("%(name)s cannot be higher than the %(later)s recorded later, at %(when)s.") % {
                "name": name, "later": getattr(after, name), "when": _when(after.taken_at)}]
    if errors:
        raise InvalidInput(details=errors)
    try:
        with transaction.atomic():
            snapshot = MetricSnapshot.objects.create(post=post, taken_at=taken_at, source=source, **values)
    except IntegrityError:
        raise Conflict(_("The post already has a snapshot taken at %(when)s.") % {"when": _when(taken_at)},
                       code="snapshot_exists", details={"taken_at": [_("Already recorded.")]}) from None
    if after is None:
        for name in COUNTERS:
            setattr(post, name, values[name])
        post.measured_at = taken_at
        formula.apply(post)
        post.save(update_fields=[*COUNTERS, "interactions", "interaction_rate", "viral", "media_value",
                                 "measured_at"])
    return snapshot


def _locked_posts(actor, post_ids) -> dict[int, Post]:
    """The posts the actor reaches among `post_ids`, locked in id order."""
    return {post.pk: post for post in scope(Post.objects.all(), actor).filter(pk__in=post_ids)
            .select_for_update(of=("self",)).order_by("pk")}


@transaction.atomic
def record_metrics(*, post, actor, taken_at, views, likes, saves, comments, shares, followers_gained=0,
                   source=MetricSource.STAFF) -> MetricSnapshot:
    """Record a post's counters as read at `taken_at`; the newest snapshot updates the post."""
    require_write(actor, "koc_posts")
    post_id = getattr(post, "pk", post)
    locked = _locked_posts(actor, [post_id]).get(post_id)
    if locked is None:
        raise NotInScope(_("No such post, or not yours to reach."), details={"post": [post_id]})
    values = {"views": views, "likes": likes, "saves": saves, "comments": comments, "shares": shares,
              "followers_gained": followers_gained}
    snapshot = _record_locked(locked, actor=actor, taken_at=taken_at, values=values, source=source)
    if isinstance(post, Post):
        post.refresh_from_db()
    return snapshot


@transaction.atomic
def record_metrics_batch(*, actor, rows) -> list[MetricSnapshot]:
    """Record up to 1,000 snapshots (each a dict: post, taken_at, the counters, optional
    followers_gained and source), all or nothing: any bad row refuses the whole batch, the error
    naming each row by its index and field ({"3": {"likes": [...]}})."""
    require_write(actor, "koc_posts")
    if not isinstance(rows, list | tuple) or not rows:
        raise InvalidInput(details={"rows": [_("A list of 1 to %(max)d snapshots.") % {"max": MAX_BATCH}]})
    if len(rows) > MAX_BATCH:
        raise InvalidInput(details={"rows": [_("At most %(max)d snapshots at a time (got %(n)d).")
                                             % {"max": MAX_BATCH, "n": len(rows)}]})
    ids = {row.get("post") for row in rows if isinstance(row, dict)}
    posts = _locked_posts(actor, [i for i in ids if isinstance(i, int) and not isinstance(i, bool)])
    errors: dict = {}
    created = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors[str(index)] = {"non_field_errors": [_("Expected an object.")]}
            continue
        post = posts.get(row.get("post"))
        if post is None:
            errors[str(index)] = {"post": [_("No such post, or not yours to reach.")]}
            continue
        values = {name: row.get(name, 0 if name == "followers_gained" else None) for name in COUNTERS}
        try:
            created.append(_record_locked(post, actor=actor, taken_at=row.get("taken_at"), values=values,
                                          source=row.get("source", MetricSource.API)))
        except (InvalidInput, Conflict) as exc:
            errors[str(index)] = exc.details
    if errors:
        raise InvalidInput(_("%(n)d of %(total)d rows are refused; nothing was recorded.")
                           % {"n": len(errors), "total": len(rows)}, details=errors)
    return created
