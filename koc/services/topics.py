"""Topics (the briefs the brand hands creators), creators taking part, their reward, and the brand's
official reposts of creators' posts.

Who: topics are the brand's (koc_programme:write: operators and brand-wide keys), and so is the
reward (points through the loyalty points service). A creator joins through staff of their store
(koc_posts:write, as they record the creator's posts); an official repost is recorded by anyone
with koc_posts:write, to a community or campaign they reach. A repost may also write a draft
campaign (to a segment, or a WeCom group message to the community's customer group) through the
campaigns' services, which the operator sends through the campaigns' approval flow; nothing is
sent from here.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignStatus
from communities.models import Community
from koc.models import Creator, CreatorStatus, Level, Participation, Platform, Post, Repost, Topic, TopicStatus
from koc.services.creators import visible_creator
from koc.services.posts import topic_problem
from loyalty.points import services as points
from scrm import actors
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.permissions import require_write
from scrm.scoping import scope

EDITABLE = ("title", "brief", "starts_at", "ends_at", "platforms", "min_level_id", "reward_points", "reward_sample")
MAX_REWARD_POINTS = 1_000_000


def _text(values: dict, name: str, limit: int, errors: dict, *, blank: bool = False) -> None:
    if name not in values:
        return
    value = values[name]
    if not isinstance(value, str):
        errors[name] = [_("Text expected.")]
        return
    value = value.strip()
    if not value and not blank:
        errors[name] = [_("This field may not be blank.")]
    elif len(value) > limit:
        errors[name] = [_("At most %(limit)d characters.") % {"limit": limit}]
    values[name] = value


def _check(values: dict) -> dict:
    """Errors of a topic's fields (all of them, merged with the stored ones on an update)."""
    errors: dict = {}
    _text(values, "title", 120, errors)
    _text(values, "brief", 4000, errors)
    _text(values, "reward_sample", 120, errors, blank=True)
    for name in ("starts_at", "ends_at"):
        value = values.get(name)
        if not isinstance(value, dt.datetime) or timezone.is_naive(value):
            errors[name] = [_("A date and time with its time zone.")]
    if not errors.get("starts_at") and not errors.get("ends_at") and values["ends_at"] <= values["starts_at"]:
        errors["ends_at"] = [_("The topic ends (%(ends)s) before it starts (%(starts)s).") % {
            "ends": timezone.localtime(values["ends_at"]).strftime("%Y-%m-%d %H:%M"),
            "starts": timezone.localtime(values["starts_at"]).strftime("%Y-%m-%d %H:%M")}]
    platforms = values.get("platforms")
    if isinstance(platforms, str) or not isinstance(platforms, list | tuple):
        errors["platforms"] = [_("A list of platforms (empty: any).")]
    elif unknown := [str(p) for p in platforms if p not in Platform.values]:
        errors["platforms"] = [_("Unknown platforms: %(names)s.") % {"names": ", ".join(unknown)}]
    else:
        values["platforms"] = [p for p in Platform.values if p in platforms]
    level_id = values.get("min_level_id")
    if level_id is not None and not (isinstance(level_id, int) and Level.objects.filter(pk=level_id).exists()):
        errors["min_level"] = [_("No level %(id)s.") % {"id": level_id}]
    reward = values.get("reward_points")
    if isinstance(reward, bool) or not isinstance(reward, int) or not 0 <= reward <= MAX_REWARD_POINTS:
        errors["reward_points"] = [_("A whole number of points from 0 to %(max)s.") % {"max": MAX_REWARD_POINTS}]
    return errors


@transaction.atomic
def create_topic(*, actor, title, brief, starts_at, ends_at, platforms=(), min_level_id=None, reward_points=0,
                 reward_sample="") -> Topic:
    """A new topic, as a draft (open it to let creators join and post for it)."""
    require_write(actor, "koc_programme")
    values = {"title": title, "brief": brief, "starts_at": starts_at, "ends_at": ends_at,
              "platforms": list(platforms) if isinstance(platforms, tuple | set) else platforms,
              "min_level_id": min_level_id, "reward_points": reward_points, "reward_sample": reward_sample or ""}
    if errors := _check(values):
        raise InvalidInput(details=errors)
    return Topic.objects.create(created_by=actors.actor_user(actor), **values)


def _locked_topic(topic) -> Topic:
    pk = getattr(topic, "pk", topic)
    found = Topic.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotInScope(details={"topic": [pk]})
    return found


@transaction.atomic
def update_topic(*, topic, actor, **values) -> Topic:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise TypeError(f"update_topic() got unknown fields {sorted(unknown)}")
    require_write(actor, "koc_programme")
    topic = _locked_topic(topic)
    if topic.status == TopicStatus.CLOSED:
        raise Conflict(_("The topic “%(title)s” is closed.") % {"title": topic.title}, code="topic_closed")
    merged = {name: values.get(name, getattr(topic, name)) for name in EDITABLE}
    if errors := _check(merged):
        raise InvalidInput(details=errors)
    for name in values:
        setattr(topic, name, merged[name])
    topic.save()
    return topic


@transaction.atomic
def open_topic(*, topic, actor) -> Topic:
    """Open a topic to creators (again, if it was closed); one whose window has ended cannot open."""
    require_write(actor, "koc_programme")
    topic = _locked_topic(topic)
    if topic.status == TopicStatus.OPEN:
        return topic
    if topic.ends_at <= timezone.now():
        raise Conflict(_("The topic “%(title)s” ended on %(ends)s; change its window first.") % {
            "title": topic.title, "ends": timezone.localtime(topic.ends_at).strftime("%Y-%m-%d %H:%M")},
            code="topic_ended", details={"ends_at": [_("In the past.")]})
    topic.status = TopicStatus.OPEN
    topic.save(update_fields=["status"])
    return topic


@transaction.atomic
def close_topic(*, topic, actor) -> Topic:
    require_write(actor, "koc_programme")
    topic = _locked_topic(topic)
    if topic.status != TopicStatus.CLOSED:
        topic.status = TopicStatus.CLOSED
        topic.save(update_fields=["status"])
    return topic


@transaction.atomic
def join(*, topic, creator, actor) -> Participation:
    """The creator takes part in an open topic they are at the level for; joining again answers
    the participation they have."""
    require_write(actor, "koc_posts")
    creator = visible_creator(actor, creator)
    topic = Topic.objects.select_related("min_level").filter(pk=getattr(topic, "pk", topic)).first()
    if topic is None:
        raise NotInScope(details={"topic": [_("No such topic.")]})
    found = Participation.objects.filter(topic=topic, creator=creator).first()
    if found is not None:
        return found
    if creator.status != CreatorStatus.ACTIVE:
        raise Conflict(_("%(name)s is %(status)s: they take no new topics.") % {
            "name": creator.member.name, "status": creator.get_status_display().lower()},
            code="creator_not_active", details={"creator": [creator.pk]})
    if problem := topic_problem(topic, creator):
        raise Conflict(problem, code="topic_not_open_to_creator", details={"topic": [problem]})
    try:
        with transaction.atomic():
            return Participation.objects.create(topic=topic, creator=creator)
    except IntegrityError:
        return Participation.objects.get(topic=topic, creator=creator)


@transaction.atomic
def reward(*, participation, actor) -> Participation:
    """Give the topic's reward points to a creator who posted for it, once: rewarding again answers
    the first reward (the participation's rewarded_at) and awards nothing more."""
    require_write(actor, "koc_programme")
    pk = getattr(participation, "pk", participation)
    participation = (scope(Participation.objects.all(), actor).filter(pk=pk)
                     .select_for_update(of=("self",)).first())
    if participation is None:
        raise NotInScope(details={"participation": [pk]})
    if participation.rewarded_at is not None:
        return participation
    topic = participation.topic
    creator = Creator.objects.select_related("member").get(pk=participation.creator_id)
    if not Post.objects.filter(topic=topic, creator=creator).exists():
        raise Conflict(_("%(name)s has not posted for “%(title)s” yet.") % {
            "name": creator.member.name, "title": topic.title}, code="no_post_for_topic")
    if topic.reward_points:
        points.adjust_points(member=creator.member, points=topic.reward_points, actor=actor,
                             reason=(_("KOC topic: %(title)s") % {"title": topic.title})[:300])
    participation.rewarded_at = timezone.now()
    participation.save(update_fields=["rewarded_at"])
    return participation


DRAFTS = ("campaign", "community")
LINK_TITLE_BYTES = 128  # WeCom's link card title (campaigns.attachments.LINK_TITLE_BYTES)


def _cut(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` of UTF-8, on a character boundary."""
    return text.encode()[:max_bytes].decode(errors="ignore")


def repost_message(post: Post) -> str:
    """The message a repost's draft starts from: "<creator> on <platform>: <title>"."""
    return _("%(creator)s on %(platform)s: %(title)s") % {
        "creator": post.creator.member.name, "platform": post.get_platform_display(),
        "title": post.title or post.url}


def _draft_campaign(*, post: Post, actor, segment_id, channel: str) -> Campaign:
    from campaigns.services import campaigns as campaign_services

    if segment_id is None:
        raise InvalidInput(details={"segment": [_("Choose the segment the campaign goes to.")]})
    message = repost_message(post)
    link = {"type": "link", "title": _cut(post.title or message, LINK_TITLE_BYTES), "url": post.url}
    return campaign_services.create_campaign(actor=actor, data=campaign_services.CampaignInput(
        name=(_("Repost: %(message)s") % {"message": message})[:100], segment_id=segment_id, channel=channel,
        content=message, attachments=[link]))


def _draft_group_message(*, post: Post, actor, community: Community) -> Campaign:
    from campaigns.services import group_messages
    from wecom.models import CustomerGroup

    group = (CustomerGroup.objects.visible_to(actor).filter(chat_id=community.wecom_chat_id, dismissed_at__isnull=True)
             .first() if community.wecom_chat_id else None)
    if group is None:
        raise InvalidInput(details={"community": [
            _("The community “%(name)s” mirrors no WeCom customer group you can send to.") % {"name": community.name}]})
    message = repost_message(post)
    # a group message carries no attachments: the post's link goes in its text
    return group_messages.create_group_campaign(
        actor=actor, name=(_("Repost to %(community)s: %(message)s") % {
            "community": community.name, "message": message})[:100],
        content=f"{message}\n{post.url}", groups=[group])


@transaction.atomic
def repost(*, post, actor, community_id=None, campaign_id=None, draft=None, segment_id=None,
           channel="wecom") -> Repost:
    """Record that the brand officially reposted a post (to a community, in a campaign, or on its
    own accounts when neither is given); the post's reposted_at is the first such time.

    `draft` makes the repost reach members through the campaigns' own services and approval flow:
    "campaign" writes a draft campaign to `segment_id` on `channel` with the post's link attached;
    "community" writes a draft WeCom group message to the community's customer group. The Repost
    points at the draft; the operator chooses the audience and time and sends it as any campaign.
    Only those who may send campaigns write drafts (store staff may not). Asking again while the
    draft is still a draft answers the first repost."""
    require_write(actor, "koc_posts")
    if draft is not None:
        from campaigns.services import campaigns as campaign_services

        if draft not in DRAFTS:
            raise InvalidInput(details={"draft": [_("One of %(kinds)s.") % {"kinds": ", ".join(DRAFTS)}]})
        if campaign_id is not None:
            raise InvalidInput(details={"campaign": [_("A new draft campaign is written: give no campaign.")]})
        if draft == "community" and community_id is None:
            raise InvalidInput(details={"community": [_("Choose the community to repost to.")]})
        if draft == "campaign" and community_id is not None:
            raise InvalidInput(details={"community": [_("A repost as a new campaign goes to a segment, not a "
                                                        "community.")]})
        if not campaign_services.can_approve(actor):
            raise Forbidden(_("Only those who send campaigns can repost a post to members."))
    pk = getattr(post, "pk", post)
    post = (scope(Post.objects.all(), actor).filter(pk=pk).select_related("creator__member")
            .select_for_update(of=("self",)).first())
    if post is None:
        raise NotInScope(_("No such post, or not yours to reach."), details={"post": [pk]})
    errors = {}
    community = campaign = None
    if community_id is not None:
        community = scope(Community.objects.all(), actor).filter(pk=community_id).first()
        if community is None:
            errors["community"] = [_("No such community, or not yours to reach.")]
    if campaign_id is not None:
        campaign = scope(Campaign.objects.all(), actor).filter(pk=campaign_id).first()
        if campaign is None:
            errors["campaign"] = [_("No such campaign, or not yours to reach.")]
    if errors:
        raise InvalidInput(details=errors)
    if draft is not None:
        earlier = Repost.objects.filter(post=post, campaign__status=CampaignStatus.DRAFT).select_related("campaign")
        if draft == "community":
            earlier = earlier.filter(community=community, campaign__channel="wecom_group")
        else:
            earlier = earlier.filter(community__isnull=True, campaign__segment_id=segment_id,
                                     campaign__channel=channel, campaign__attachments__contains=[{"url": post.url}])
        if (found := earlier.order_by("at", "id").first()) is not None:
            return found  # the post's lock makes this check and the write below one step
        if draft == "community":
            campaign = _draft_group_message(post=post, actor=actor, community=community)
        else:
            campaign = _draft_campaign(post=post, actor=actor, segment_id=segment_id, channel=channel)
    now = timezone.now()
    made = Repost.objects.create(post=post, community=community, campaign=campaign, by=actors.actor_user(actor),
                                 at=now)
    if post.reposted_at is None:
        Post.objects.filter(pk=post.pk).update(reposted_at=now)
    return made
