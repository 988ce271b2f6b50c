"""The KOC programme: members who create content, in a pyramid of levels by how much and how well
they publish, with platform accounts, tracked posts and their reach, topics and rights per level.

A `Creator` is a member admitted to the programme (one per member; the member's home store scopes
it). Their `Post`s are unique by normalised URL across the brand; each post carries its latest
metrics and the figures derived from them (interactions, interaction rate, viral flag, media
value), copied from its newest `MetricSnapshot` when one is recorded, so lists, figures and the
tier recalculation read one row per post and never the snapshot history. Cumulative counters never
go down: a snapshot lower than the one before it is refused.

Levels are the programme's ladder (rank 1 the base of the pyramid); each holds its rule over a
rolling window (posts published, viral posts, interactions). The recalculation promotes at once
and demotes only when a period ends, and only below the level's bar minus the grace margin, so
creators do not flap; every change is a `LevelChange` row with its reason. A `Benefit` belongs to
the lowest level that earns it; `BenefitGrant`s record who holds which, granted and revoked as
levels change.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member
from scrm.scoping import ScopedManager


class Platform(models.TextChoices):
    XIAOHONGSHU = "xiaohongshu", _("Xiaohongshu")
    DOUYIN = "douyin", _("Douyin")
    CHANNELS = "channels", _("WeChat Channels")
    MOMENTS = "moments", _("WeChat Moments")
    WEIBO = "weibo", _("Weibo")
    BILIBILI = "bilibili", _("Bilibili")


# --- the programme's settings ---------------------------------------------------------------------


class Programme(models.Model):
    """The programme's settings, one row (pk 1): how interactions are weighted, when a post counts
    as viral, how candidates are scored, the tier window and when periods end."""

    like_weight = models.DecimalField(_("weight of a like"), max_digits=6, decimal_places=2, default=Decimal("1"))
    save_weight = models.DecimalField(_("weight of a save"), max_digits=6, decimal_places=2, default=Decimal("2"))
    comment_weight = models.DecimalField(_("weight of a comment"), max_digits=6, decimal_places=2,
                                         default=Decimal("3"))
    share_weight = models.DecimalField(_("weight of a share"), max_digits=6, decimal_places=2, default=Decimal("4"))
    viral_interactions = models.PositiveIntegerField(
        _("viral: weighted interactions at least"), default=1000,
        help_text=_("A post with at least this many weighted interactions is viral."))
    viral_rate = models.DecimalField(
        _("viral: interaction rate at least (%)"), max_digits=6, decimal_places=2, default=Decimal("10"),
        help_text=_("…and at least this interaction rate (weighted interactions per 100 views)."))
    viral_min_views = models.PositiveIntegerField(
        _("viral: views at least"), default=500, help_text=_("Posts seen fewer times are never viral."))
    window_days = models.PositiveSmallIntegerField(
        _("tier window (days)"), default=90, validators=[MinValueValidator(7), MaxValueValidator(730)],
        help_text=_("Levels count what a creator published over this many days."))
    period_months = models.PositiveSmallIntegerField(
        _("demotion period (months)"), default=3, validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text=_("Demotions happen only when a period ends (every this many months from January)."))
    grace_percent = models.PositiveSmallIntegerField(
        _("grace margin (%)"), default=20, validators=[MaxValueValidator(90)],
        help_text=_("At a period's end a creator keeps their level while within this margin below its bar."))
    score_spend_weight = models.DecimalField(_("candidate score: spend"), max_digits=6, decimal_places=2,
                                             default=Decimal("0.4"))
    score_engagement_weight = models.DecimalField(_("candidate score: engagement"), max_digits=6,
                                                  decimal_places=2, default=Decimal("0.2"))
    score_posts_weight = models.DecimalField(_("candidate score: posts already seen"), max_digits=6,
                                             decimal_places=2, default=Decimal("0.3"))
    score_community_weight = models.DecimalField(_("candidate score: community activity"), max_digits=6,
                                                 decimal_places=2, default=Decimal("0.1"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    store_scope_field = None  # brand-wide settings

    class Meta:
        verbose_name = _("KOC programme settings")
        verbose_name_plural = _("KOC programme settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="koc_programme_single_row")]

    def __str__(self) -> str:
        return str(_("KOC programme settings"))

    @classmethod
    def current(cls) -> Programme:
        return cls.objects.get_or_create(pk=1)[0]


class PlatformRate(models.Model):
    """What reach costs in ads on a platform, set by the operator: the media value of a post is
    its views / 1000 × `cpm` plus its weighted interactions × `cpe` (both in yuan)."""

    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices, unique=True)
    cpm = models.DecimalField(_("cost per 1,000 views (yuan)"), max_digits=10, decimal_places=2,
                              validators=[MinValueValidator(0)])
    cpe = models.DecimalField(_("cost per interaction (yuan)"), max_digits=10, decimal_places=2, default=0,
                              validators=[MinValueValidator(0)])
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    store_scope_field = None

    class Meta:
        ordering = ["platform"]
        verbose_name = _("platform rate")
        verbose_name_plural = _("platform rates")
        constraints = [models.CheckConstraint(condition=Q(cpm__gte=0, cpe__gte=0), name="koc_rate_not_negative")]

    def __str__(self) -> str:
        return self.get_platform_display()


# --- levels and rights ----------------------------------------------------------------------------


class Level(models.Model):
    """A step of the pyramid. A creator belongs to the highest level whose three minimums they meet
    over the programme's window; rank 1 is the base and asks the least."""

    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, validators=[MinValueValidator(1)])
    name = models.CharField(_("name"), max_length=40, unique=True)
    description = models.TextField(_("description"), blank=True, default="")
    min_posts = models.PositiveIntegerField(_("posts published, at least"), default=0)
    min_viral = models.PositiveIntegerField(_("viral posts, at least"), default=0)
    min_interactions = models.PositiveBigIntegerField(_("weighted interactions, at least"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    store_scope_field = None

    class Meta:
        ordering = ["rank"]
        verbose_name = _("KOC level")
        verbose_name_plural = _("KOC levels")

    def __str__(self) -> str:
        return self.name


class BenefitKind(models.TextChoices):
    EARLY_ACCESS = "early_access", _("Early access to a launch")
    SAMPLE = "sample", _("Samples")
    COMMUNITY = "community", _("Senior creators' community")
    MENTOR = "mentor", _("Mentor role")
    OTHER = "other", _("Other")


class Benefit(models.Model):
    """A right worth earning, held by every creator at `level` or above."""

    level = models.ForeignKey(Level, verbose_name=_("from level"), on_delete=models.PROTECT, related_name="benefits",
                              db_index=False)
    kind = models.CharField(_("kind"), max_length=16, choices=BenefitKind.choices)
    name = models.CharField(_("name"), max_length=80)
    description = models.TextField(_("description"), blank=True, default="")
    early_days = models.PositiveSmallIntegerField(
        _("days before the public"), null=True, blank=True,
        help_text=_("Early access: how many days before a launch's public date creators may buy."))
    community = models.ForeignKey("communities.Community", verbose_name=_("community"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+",
                                  help_text=_("The community holders are members of."))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    store_scope_field = None

    class Meta:
        ordering = ["level__rank", "name"]
        verbose_name = _("KOC benefit")
        verbose_name_plural = _("KOC benefits")
        constraints = [models.UniqueConstraint(fields=["level", "name"], name="koc_benefit_unique_name")]

    def __str__(self) -> str:
        return self.name


class Launch(models.Model):
    """A product launch creators at a level with early access may buy before `public_at`."""

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True, default="")
    public_at = models.DateTimeField(_("public from"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    store_scope_field = None

    class Meta:
        ordering = ["-public_at"]
        verbose_name = _("launch")
        verbose_name_plural = _("launches")

    def __str__(self) -> str:
        return self.name


# --- creators -------------------------------------------------------------------------------------


class CreatorStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    LEFT = "left", _("Left the programme")


class Creator(models.Model):
    """A member in the KOC programme. `level` is what the last recalculation decided; the window's
    counts beside it are what it counted (kept so a page shows what the next level needs)."""

    member = models.OneToOneField(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="creator")
    status = models.CharField(_("status"), max_length=8, choices=CreatorStatus.choices, default=CreatorStatus.ACTIVE)
    level = models.ForeignKey(Level, verbose_name=_("level"), null=True, blank=True, on_delete=models.PROTECT,
                              related_name="creators", db_index=False)
    level_since = models.DateTimeField(_("at this level since"), null=True, blank=True)
    mentor = models.ForeignKey("self", verbose_name=_("mentor"), null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="mentees", db_index=False)
    bio = models.CharField(_("about"), max_length=280, blank=True, default="")
    window_posts = models.PositiveIntegerField(_("posts in the window"), default=0)
    window_viral = models.PositiveIntegerField(_("viral posts in the window"), default=0)
    window_interactions = models.PositiveBigIntegerField(_("interactions in the window"), default=0)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("approved by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["-joined_at", "-id"]
        verbose_name = _("creator")
        verbose_name_plural = _("creators")
        constraints = [models.CheckConstraint(condition=~Q(mentor=F("id")), name="koc_creator_not_own_mentor")]
        indexes = [
            models.Index(fields=["level", "status"], name="koc_creator_level"),
            models.Index(fields=["mentor"], name="koc_creator_mentor"),
            models.Index(fields=["-joined_at", "-id"], name="koc_creator_joined"),
        ]

    def __str__(self) -> str:
        return str(self.member)


class ApplicationState(models.TextChoices):
    PENDING = "pending", _("Waiting for a decision")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class Application(models.Model):
    """A member asking to join (or proposed by staff from the candidates list)."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    state = models.CharField(_("state"), max_length=8, choices=ApplicationState.choices,
                             default=ApplicationState.PENDING)
    motivation = models.TextField(_("why they want to join"), blank=True, default="", max_length=2000)
    platforms = ArrayField(models.CharField(max_length=16, choices=Platform.choices), verbose_name=_("platforms"),
                           default=list, blank=True)
    score = models.DecimalField(_("candidate score"), max_digits=8, decimal_places=2, null=True, blank=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("proposed by"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=280, blank=True, default="")
    created_at = models.DateTimeField(_("applied at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "member__home_store"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("KOC application")
        verbose_name_plural = _("KOC applications")
        constraints = [
            models.UniqueConstraint(fields=["member"], condition=Q(state="pending"),
                                    name="koc_application_one_pending"),
        ]
        indexes = [models.Index(fields=["state", "-created_at"], name="koc_application_state")]

    def __str__(self) -> str:
        return f"{self.member_id} ({self.state})"


class Account(models.Model):
    """A creator's account on a platform, with its follower count as last recorded."""

    creator = models.ForeignKey(Creator, verbose_name=_("creator"), on_delete=models.CASCADE, related_name="accounts",
                                db_index=False)
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    handle = models.CharField(_("account name or id"), max_length=80)
    url = models.URLField(_("profile link"), max_length=500, blank=True, default="")
    followers = models.PositiveIntegerField(_("followers"), default=0)
    followers_at = models.DateTimeField(_("followers counted at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "creator__member__home_store"

    class Meta:
        ordering = ["creator_id", "platform"]
        verbose_name = _("platform account")
        verbose_name_plural = _("platform accounts")
        constraints = [
            models.UniqueConstraint(fields=["platform", "handle"], name="koc_account_unique_handle"),
            models.UniqueConstraint(fields=["creator", "platform"], name="koc_account_one_per_platform"),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()}: {self.handle}"


# --- topics and posts -----------------------------------------------------------------------------


class TopicStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Topic(models.Model):
    """A brief handed to creators ("blind-box weighing"): what to post, where, when, for what."""

    title = models.CharField(_("title"), max_length=120)
    brief = models.TextField(_("brief"), max_length=4000)
    platforms = ArrayField(models.CharField(max_length=16, choices=Platform.choices), verbose_name=_("platforms"),
                           default=list, blank=True)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    min_level = models.ForeignKey(Level, verbose_name=_("open from level"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    reward_points = models.PositiveIntegerField(_("reward (points)"), default=0)
    reward_sample = models.CharField(_("reward (sample)"), max_length=120, blank=True, default="")
    status = models.CharField(_("status"), max_length=8, choices=TopicStatus.choices, default=TopicStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    store_scope_field = None  # a brief is brand-wide; who took part is scoped through the creator

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="koc_topic_window")]

    def __str__(self) -> str:
        return self.title


class Participation(models.Model):
    """A creator taking part in a topic; rewarded once."""

    topic = models.ForeignKey(Topic, verbose_name=_("topic"), on_delete=models.CASCADE, related_name="participations",
                              db_index=False)
    creator = models.ForeignKey(Creator, verbose_name=_("creator"), on_delete=models.CASCADE, related_name="+",
                                db_index=False)
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)
    rewarded_at = models.DateTimeField(_("rewarded at"), null=True, blank=True)

    objects = ScopedManager()
    store_scope_field = "creator__member__home_store"

    class Meta:
        ordering = ["topic_id", "joined_at"]
        verbose_name = _("topic participation")
        verbose_name_plural = _("topic participations")
        constraints = [models.UniqueConstraint(fields=["topic", "creator"], name="koc_participation_once")]
        indexes = [models.Index(fields=["creator"], name="koc_participation_creator")]

    def __str__(self) -> str:
        return f"{self.creator_id} in {self.topic_id}"


class PostSource(models.TextChoices):
    CREATOR = "creator", _("Submitted by the creator")
    STAFF = "staff", _("Recorded by staff")
    API = "api", _("API")
    IMPORT = "import", _("Import")


class Post(models.Model):
    """A piece of content a creator published, with its latest metrics and what they make of it."""

    creator = models.ForeignKey(Creator, verbose_name=_("creator"), on_delete=models.CASCADE, related_name="posts",
                                db_index=False)
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    url = models.URLField(_("link"), max_length=500)
    url_key = models.CharField(_("normalised link"), max_length=500, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200, blank=True, default="")
    topic = models.ForeignKey(Topic, verbose_name=_("topic"), null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="posts", db_index=False)
    published_at = models.DateTimeField(_("published at"))
    source = models.CharField(_("source"), max_length=8, choices=PostSource.choices, default=PostSource.CREATOR)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    # the latest snapshot's counters (cumulative) and what follows from them
    views = models.PositiveBigIntegerField(_("views"), default=0)
    likes = models.PositiveBigIntegerField(_("likes"), default=0)
    saves = models.PositiveBigIntegerField(_("saves"), default=0)
    comments = models.PositiveBigIntegerField(_("comments"), default=0)
    shares = models.PositiveBigIntegerField(_("shares"), default=0)
    followers_gained = models.PositiveBigIntegerField(_("followers gained"), default=0)
    interactions = models.PositiveBigIntegerField(_("weighted interactions"), default=0)
    interaction_rate = models.DecimalField(_("interaction rate (%)"), max_digits=9, decimal_places=2, default=0)
    viral = models.BooleanField(_("viral"), default=False)
    media_value = models.DecimalField(_("media value (yuan)"), max_digits=14, decimal_places=2, default=0)
    measured_at = models.DateTimeField(_("measured at"), null=True, blank=True)
    reposted_at = models.DateTimeField(_("officially reposted at"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "creator__member__home_store"

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        indexes = [
            models.Index(fields=["creator", "published_at"], name="koc_post_creator_published"),
            models.Index(fields=["published_at"], name="koc_post_published"),
            models.Index(fields=["topic", "published_at"], name="koc_post_topic"),
            models.Index(fields=["-interactions"], name="koc_post_top"),
            models.Index(fields=["-media_value"], name="koc_post_top_value"),
        ]

    def __str__(self) -> str:
        return self.title or self.url


class MetricSource(models.TextChoices):
    CREATOR = "creator", _("Reported by the creator")
    STAFF = "staff", _("Recorded by staff")
    API = "api", _("API")


class MetricSnapshot(models.Model):
    """A post's counters as read at `taken_at`. Counters are cumulative: never lower than an earlier
    snapshot's, never higher than a later one's."""

    id = models.BigAutoField(primary_key=True)
    post = models.ForeignKey(Post, verbose_name=_("post"), on_delete=models.CASCADE, related_name="snapshots",
                             db_index=False)
    taken_at = models.DateTimeField(_("taken at"))
    views = models.PositiveBigIntegerField(_("views"), default=0)
    likes = models.PositiveBigIntegerField(_("likes"), default=0)
    saves = models.PositiveBigIntegerField(_("saves"), default=0)
    comments = models.PositiveBigIntegerField(_("comments"), default=0)
    shares = models.PositiveBigIntegerField(_("shares"), default=0)
    followers_gained = models.PositiveBigIntegerField(_("followers gained"), default=0)
    source = models.CharField(_("source"), max_length=8, choices=MetricSource.choices, default=MetricSource.STAFF)

    objects = ScopedManager()
    store_scope_field = "post__creator__member__home_store"

    class Meta:
        ordering = ["post_id", "taken_at"]
        verbose_name = _("metric snapshot")
        verbose_name_plural = _("metric snapshots")
        constraints = [models.UniqueConstraint(fields=["post", "taken_at"], name="koc_snapshot_once")]

    def __str__(self) -> str:
        return f"{self.post_id} at {self.taken_at:%Y-%m-%d %H:%M}"


class Repost(models.Model):
    """A post the brand officially reposted: to a community (as an announcement) or in a campaign."""

    post = models.ForeignKey(Post, verbose_name=_("post"), on_delete=models.CASCADE, related_name="reposts")
    community = models.ForeignKey("communities.Community", verbose_name=_("community"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    campaign = models.ForeignKey("campaigns.Campaign", verbose_name=_("campaign"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                           on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "post__creator__member__home_store"

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("official repost")
        verbose_name_plural = _("official reposts")

    def __str__(self) -> str:
        return f"{self.post_id} reposted"


# --- tier history and rights held -----------------------------------------------------------------


class TierRun(models.Model):
    """One recalculation: what it counted and changed."""

    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    period_end = models.BooleanField(_("at a period's end"), default=False,
                                     help_text=_("Only a run at a period's end demotes."))
    trigger = models.CharField(_("trigger"), max_length=16, default="schedule")
    creators = models.PositiveIntegerField(_("creators counted"), default=0)
    promoted = models.PositiveIntegerField(_("promoted"), default=0)
    demoted = models.PositiveIntegerField(_("demoted"), default=0)
    kept_by_grace = models.PositiveIntegerField(_("kept by the grace margin"), default=0)
    grants = models.PositiveIntegerField(_("benefits granted"), default=0)
    revokes = models.PositiveIntegerField(_("benefits revoked"), default=0)
    error = models.CharField(_("error"), max_length=500, blank=True, default="")

    store_scope_field = None  # counts only, no personal data

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("tier recalculation")
        verbose_name_plural = _("tier recalculations")

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M}"


class LevelChange(models.Model):
    """A creator's move between levels (`to_level` empty: below the base), with the counts that
    decided it and why."""

    creator = models.ForeignKey(Creator, verbose_name=_("creator"), on_delete=models.CASCADE,
                                related_name="level_changes", db_index=False)
    from_level = models.ForeignKey(Level, verbose_name=_("from"), null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    to_level = models.ForeignKey(Level, verbose_name=_("to"), null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    reason = models.CharField(_("reason"), max_length=24)
    posts = models.PositiveIntegerField(_("posts in the window"), default=0)
    viral = models.PositiveIntegerField(_("viral posts in the window"), default=0)
    interactions = models.PositiveBigIntegerField(_("interactions in the window"), default=0)
    run = models.ForeignKey(TierRun, verbose_name=_("recalculation"), null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                           on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "creator__member__home_store"

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("level change")
        verbose_name_plural = _("level changes")
        indexes = [models.Index(fields=["creator", "-at"], name="koc_level_change_creator"),
                   models.Index(fields=["at"], name="koc_level_change_at")]

    def __str__(self) -> str:
        return f"{self.creator_id}: {self.from_level_id} → {self.to_level_id}"


class BenefitGrant(models.Model):
    """A creator holding a benefit, from when until when (revoked when their level no longer
    earns it)."""

    creator = models.ForeignKey(Creator, verbose_name=_("creator"), on_delete=models.CASCADE,
                                related_name="grants", db_index=False)
    benefit = models.ForeignKey(Benefit, verbose_name=_("benefit"), on_delete=models.PROTECT, related_name="grants")
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    run = models.ForeignKey(TierRun, verbose_name=_("recalculation"), null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="+")

    objects = ScopedManager()
    store_scope_field = "creator__member__home_store"

    class Meta:
        ordering = ["-granted_at", "-id"]
        verbose_name = _("benefit held")
        verbose_name_plural = _("benefits held")
        constraints = [
            models.UniqueConstraint(fields=["creator", "benefit"], condition=Q(revoked_at__isnull=True),
                                    name="koc_grant_one_open"),
        ]

    def __str__(self) -> str:
        return f"{self.creator_id} holds {self.benefit_id}"


class MentorTemplate(models.Model):
    """A template a mentor shares with their mentees (a post outline, a shot list)."""

    mentor = models.ForeignKey(Creator, verbose_name=_("mentor"), on_delete=models.CASCADE, related_name="templates")
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("body"), max_length=8000)
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = ScopedManager()
    store_scope_field = "mentor__member__home_store"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("mentor template")
        verbose_name_plural = _("mentor templates")

    def __str__(self) -> str:
        return self.title


# --- the overview's figures, summarised -------------------------------------------------------------


class PostDay(models.Model):
    """Posts published on a day (brand time zone) per platform, the creator's member's home store
    and topic, with their latest metrics summed: the overview's monthly figures, media value per
    platform and topic leaderboard read these rows, not the posts. Rebuilt whole by
    koc.services.figures.refresh(); `refreshed_at` is when."""

    day = models.DateField(_("day"))
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    store = models.ForeignKey("scrm.Store", verbose_name=_("store"), null=True, blank=True,
                              on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False)
    topic = models.ForeignKey(Topic, verbose_name=_("topic"), null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+", db_index=False)
    posts = models.PositiveIntegerField(_("posts"), default=0)
    viral = models.PositiveIntegerField(_("viral posts"), default=0)
    views = models.PositiveBigIntegerField(_("views"), default=0)
    interactions = models.PositiveBigIntegerField(_("weighted interactions"), default=0)
    media_value = models.DecimalField(_("media value (yuan)"), max_digits=18, decimal_places=2, default=0)
    refreshed_at = models.DateTimeField(_("refreshed at"))

    store_scope_field = "store"

    class Meta:
        ordering = ["day", "platform"]
        verbose_name = _("posts of a day")
        verbose_name_plural = _("posts per day")
        indexes = [models.Index(fields=["day"], name="koc_postday_day"),
                   models.Index(fields=["topic"], condition=Q(topic__isnull=False), name="koc_postday_topic")]

    def __str__(self) -> str:
        return f"{self.day} {self.platform}"


class CreatorWindow(models.Model):
    """A creator's posts published in one of the overview's windows (the last `days` days from the
    brand's midnight on `start`, as at the refresh), their metrics summed: the overview's top
    creators read these rows, a few thousand per window, not the posts."""

    days = models.PositiveSmallIntegerField(_("window (days)"))
    start = models.DateField(_("from"))
    creator = models.ForeignKey(Creator, verbose_name=_("creator"), on_delete=models.DO_NOTHING,
                                db_constraint=False, related_name="+", db_index=False)
    store = models.ForeignKey("scrm.Store", verbose_name=_("store"), null=True, blank=True,
                              on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False)
    posts = models.PositiveIntegerField(_("posts"), default=0)
    views = models.PositiveBigIntegerField(_("views"), default=0)
    interactions = models.PositiveBigIntegerField(_("weighted interactions"), default=0)
    media_value = models.DecimalField(_("media value (yuan)"), max_digits=18, decimal_places=2, default=0)

    store_scope_field = "store"

    class Meta:
        ordering = ["days", "creator_id"]
        verbose_name = _("a creator's window")
        verbose_name_plural = _("creators' windows")
        indexes = [models.Index(fields=["days", "store"], name="koc_creatorwindow_days")]

    def __str__(self) -> str:
        return f"{self.creator_id} {self.days} days"
