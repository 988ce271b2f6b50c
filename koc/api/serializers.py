"""Serializers of the KOC content API: what it answers, and the bodies it takes (strict fields;
an unknown field is a 400 naming it)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from koc.models import (
    Account,
    Application,
    ApplicationState,
    Creator,
    CreatorStatus,
    MetricSnapshot,
    MetricSource,
    Participation,
    Platform,
    PlatformRate,
    Post,
    PostSource,
    Programme,
    Repost,
    Topic,
    TopicStatus,
)
from koc.services import formula
from koc.services import settings as settings_services
from scrm.api import fields as strict
from scrm.api.serializers import StrictModelSerializer

COUNTER_HELP = "Cumulative, as the platform shows it; never lower than an earlier snapshot's."


def _described_choice(name: str, choices) -> type[serializers.ChoiceField]:
    """A strict ChoiceField whose values the schema lists in its description rather than as an enum
    component: `platform`, `status` and `source` each name several choice sets across the API, and
    drf-spectacular would otherwise give them made-up enum names."""
    field = type(name, (strict.ChoiceField,), {})
    values = ", ".join(value for value, _label in choices)
    return extend_schema_field({"type": "string", "description": f"One of: {values}."})(field)


PlatformField = _described_choice("PlatformField", Platform.choices)
CreatorStatusField = _described_choice("CreatorStatusField", CreatorStatus.choices)
ApplicationStateField = _described_choice("ApplicationStateField", ApplicationState.choices)
TopicStatusField = _described_choice("TopicStatusField", TopicStatus.choices)
PostSourceField = _described_choice("PostSourceField", PostSource.choices)
MetricSourceField = _described_choice("MetricSourceField", MetricSource.choices)


def _platforms(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=PlatformField(choices=Platform.choices), max_length=len(Platform.choices),
                                 **kwargs)


class StrictBody(serializers.Serializer):
    """A body whose unknown fields are a 400 naming each (a misspelt field is never silently ignored)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = [key for key in data if key not in self.fields]
            if unknown:
                raise serializers.ValidationError({key: [_("Unknown field; known: %(known)s.") % {
                    "known": ", ".join(self.fields)}] for key in unknown})
        return super().to_internal_value(data)


# --- creators, applications, accounts -------------------------------------------------------------


class CreatorSerializer(StrictModelSerializer):
    name = strict.CharField(source="member.name", read_only=True)
    store = strict.CharField(source="member.home_store.code", read_only=True, allow_null=True)
    level_name = strict.CharField(source="level.name", read_only=True, allow_null=True)
    approved_by = strict.SlugRelatedField(slug_field="username", read_only=True)
    status = CreatorStatusField(choices=CreatorStatus.choices, read_only=True)

    class Meta:
        model = Creator
        fields = ["id", "member", "name", "store", "status", "level", "level_name", "level_since", "mentor", "bio",
                  "window_posts", "window_viral", "window_interactions", "counted_at", "joined_at", "approved_by",
                  "left_at", "updated_at"]
        read_only_fields = fields


class CreatorPatchSerializer(StrictBody):
    status = CreatorStatusField(choices=CreatorStatus.choices, required=False)
    mentor = strict.IntegerField(min_value=1, required=False, allow_null=True,
                                 help_text="Another active creator's id; null: no mentor.")
    bio = strict.CharField(max_length=280, required=False, allow_blank=True)


class AccountSerializer(StrictModelSerializer):
    platform = PlatformField(choices=Platform.choices, read_only=True)
    url = serializers.CharField(read_only=True, help_text="The profile link; empty when none was given.")

    class Meta:
        model = Account
        fields = ["id", "creator", "platform", "handle", "url", "followers", "followers_at", "created_at"]
        read_only_fields = fields


class AccountInputSerializer(StrictBody):
    platform = PlatformField(choices=Platform.choices)
    handle = strict.CharField(max_length=80, help_text="The account's name or id on the platform.")
    url = strict.CharField(max_length=500, required=False, allow_blank=True, default="",
                           help_text="The profile's link (on the same platform).")
    followers = strict.IntegerField(min_value=0, required=False, default=0)


class AccountPatchSerializer(StrictBody):
    handle = strict.CharField(max_length=80, required=False)
    url = strict.CharField(max_length=500, required=False, allow_blank=True)
    followers = strict.IntegerField(min_value=0, required=False, help_text="Counted now.")


class ApplicationSerializer(StrictModelSerializer):
    name = strict.CharField(source="member.name", read_only=True)
    store = strict.CharField(source="member.home_store.code", read_only=True, allow_null=True)
    proposed_by = strict.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = strict.SlugRelatedField(slug_field="username", read_only=True)
    state = ApplicationStateField(choices=ApplicationState.choices, read_only=True)
    platforms = _platforms(read_only=True)

    class Meta:
        model = Application
        fields = ["id", "member", "name", "store", "state", "motivation", "platforms", "score", "proposed_by",
                  "decided_by", "decided_at", "reason", "created_at"]
        read_only_fields = fields


class ApplicationInputSerializer(StrictBody):
    member = strict.IntegerField(min_value=1)
    motivation = strict.CharField(max_length=2000, required=False, allow_blank=True, default="")
    platforms = _platforms(required=False, default=list)
    proposed = strict.BooleanField(required=False, default=False,
                                   help_text="Staff propose the member (from the candidates list).")
    score = strict.DecimalField(max_digits=8, decimal_places=2, min_value=0, required=False, allow_null=True,
                                default=None, help_text="Their candidate score, when proposed from the list.")


class ApproveInputSerializer(StrictBody):
    mentor = strict.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                 help_text="A creator to mentor the new one.")


class RejectInputSerializer(StrictBody):
    reason = strict.CharField(max_length=280, help_text="Why, for the member and the next reviewer.")


class CandidateSerializer(serializers.Serializer):
    member = serializers.IntegerField(source="member_id")
    name = serializers.CharField()
    store = serializers.CharField(source="store_code", help_text="The member's home store (code).")
    spend = serializers.DecimalField(max_digits=6, decimal_places=2, help_text="Spend score, 0-100.")
    engagement = serializers.DecimalField(max_digits=6, decimal_places=2, help_text="Engagement score, 0-100.")
    posts = serializers.DecimalField(max_digits=6, decimal_places=2,
                                     help_text="Posts-already-seen (referrals) score, 0-100.")
    community = serializers.DecimalField(max_digits=6, decimal_places=2, help_text="Community score, 0-100.")
    total = serializers.DecimalField(max_digits=6, decimal_places=2,
                                     help_text="The weighted mean of the four with the programme's weights.")
    spend_amount = serializers.DecimalField(max_digits=14, decimal_places=2,
                                            help_text="Net order total over 12 months (yuan).")
    clicks_and_checkins = serializers.IntegerField(help_text="Campaign link clicks and check-ins over 90 days.")
    referrals = serializers.IntegerField(help_text="Members they brought in over 12 months.")
    community_count = serializers.IntegerField(help_text="Open community memberships and check-ins over 12 months.")


# --- posts and metrics ----------------------------------------------------------------------------


class PostSerializer(StrictModelSerializer):
    submitted_by = strict.SlugRelatedField(slug_field="username", read_only=True)
    platform = PlatformField(choices=Platform.choices, read_only=True)
    source = PostSourceField(choices=PostSource.choices, read_only=True)

    class Meta:
        model = Post
        fields = ["id", "creator", "platform", "url", "url_key", "title", "topic", "published_at", "source",
                  "submitted_by", "views", "likes", "saves", "comments", "shares", "followers_gained",
                  "interactions", "interaction_rate", "viral", "media_value", "measured_at", "reposted_at",
                  "created_at"]
        read_only_fields = fields


class PostInputSerializer(StrictBody):
    creator = strict.IntegerField(min_value=1)
    url = strict.CharField(max_length=2000, help_text="The post's link as pasted; the platform is read from it.")
    published_at = serializers.DateTimeField()
    platform = PlatformField(choices=Platform.choices, required=False, allow_null=True, default=None,
                                  help_text="Optional: refused when the link is on another platform.")
    title = strict.CharField(max_length=200, required=False, allow_blank=True, default="")
    topic = strict.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                help_text="An open topic the post is for (the creator takes part in it).")
    source = PostSourceField(choices=PostSource.choices, required=False, default=PostSource.API)


class MetricSnapshotSerializer(StrictModelSerializer):
    source = MetricSourceField(choices=MetricSource.choices, read_only=True)

    class Meta:
        model = MetricSnapshot
        fields = ["id", "post", "taken_at", "views", "likes", "saves", "comments", "shares", "followers_gained",
                  "source"]
        read_only_fields = fields


class MetricSnapshotInputSerializer(StrictBody):
    taken_at = serializers.DateTimeField()
    views = strict.IntegerField(min_value=0, help_text=COUNTER_HELP)
    likes = strict.IntegerField(min_value=0, help_text=COUNTER_HELP)
    saves = strict.IntegerField(min_value=0, help_text=COUNTER_HELP)
    comments = strict.IntegerField(min_value=0, help_text=COUNTER_HELP)
    shares = strict.IntegerField(min_value=0, help_text=COUNTER_HELP)
    followers_gained = strict.IntegerField(min_value=0, required=False, default=0, help_text=COUNTER_HELP)
    source = MetricSourceField(choices=MetricSource.choices, required=False, default=MetricSource.API)


class BatchRowSerializer(MetricSnapshotInputSerializer):
    post = strict.IntegerField(min_value=1)


class BatchInputSerializer(StrictBody):
    rows = BatchRowSerializer(many=True, help_text="1 to 1,000 snapshots, recorded all or none.")


class BatchAnswerSerializer(serializers.Serializer):
    recorded = serializers.IntegerField()
    snapshots = MetricSnapshotSerializer(many=True)


class RepostSerializer(StrictModelSerializer):
    by = strict.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Repost
        fields = ["id", "post", "community", "campaign", "by", "at"]
        read_only_fields = fields


class RepostInputSerializer(StrictBody):
    """Without `draft`: a record of a repost the brand made (to `community`, in the existing `campaign`,
    or on its own accounts). With `draft`, the repost reaches members through a draft campaign sent by
    the campaigns' approval flow: "campaign" to `segment` on `channel` with the post's link attached,
    "community" as a WeCom group message to `community`'s customer group."""

    community = strict.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    campaign = strict.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                   help_text="An existing campaign the post went out in (a record only).")
    draft = _described_choice("RepostDraftField", [(k, k) for k in ("campaign", "community")])(
        choices=["campaign", "community"], required=False, allow_null=True, default=None,
        help_text="campaign: write a draft campaign to `segment`; community: write a draft WeCom group message "
                  "to `community`'s customer group. Asking again while that draft is a draft answers the first "
                  "repost.")
    segment = strict.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                  help_text="With draft campaign: the segment it goes to.")
    channel = strict.CharField(max_length=24, required=False, default="wecom",
                               help_text="With draft campaign: its channel (default wecom).")


# --- topics ---------------------------------------------------------------------------------------


class TopicSerializer(StrictModelSerializer):
    created_by = strict.SlugRelatedField(slug_field="username", read_only=True)
    status = TopicStatusField(choices=TopicStatus.choices, read_only=True)
    platforms = _platforms(read_only=True)

    class Meta:
        model = Topic
        fields = ["id", "title", "brief", "platforms", "starts_at", "ends_at", "min_level", "reward_points",
                  "reward_sample", "status", "created_by", "created_at"]
        read_only_fields = fields


class TopicInputSerializer(StrictBody):
    title = strict.CharField(max_length=120)
    brief = strict.CharField(max_length=4000)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    platforms = _platforms(required=False, default=list, help_text="Empty: any.")
    min_level = strict.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                    help_text="The lowest level it is open to; null: every creator.")
    reward_points = strict.IntegerField(min_value=0, max_value=1_000_000, required=False, default=0)
    reward_sample = strict.CharField(max_length=120, required=False, allow_blank=True, default="")


class TopicPatchSerializer(StrictBody):
    title = strict.CharField(max_length=120, required=False)
    brief = strict.CharField(max_length=4000, required=False)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    platforms = _platforms(required=False)
    min_level = strict.IntegerField(min_value=1, required=False, allow_null=True)
    reward_points = strict.IntegerField(min_value=0, max_value=1_000_000, required=False)
    reward_sample = strict.CharField(max_length=120, required=False, allow_blank=True)


class TopicJoinInputSerializer(StrictBody):
    creator = strict.IntegerField(min_value=1)


class ParticipationSerializer(StrictModelSerializer):
    class Meta:
        model = Participation
        fields = ["id", "topic", "creator", "joined_at", "rewarded_at"]
        read_only_fields = fields


# --- settings and rates ---------------------------------------------------------------------------


class ProgrammeSerializer(StrictModelSerializer):
    formula = serializers.SerializerMethodField(help_text="The media-value formula with these numbers, in words.")

    class Meta:
        model = Programme
        fields = [*settings_services.FIELDS, "formula", "updated_at"]
        read_only_fields = fields

    def get_formula(self, obj) -> str:
        return formula.explain(programme=obj)


def _decimal(help_text: str, *, required: bool = False) -> strict.DecimalField:
    return strict.DecimalField(max_digits=6, decimal_places=2, min_value=0, required=required, help_text=help_text)


class ProgrammePatchSerializer(StrictBody):
    like_weight = _decimal("Weight of a like in the weighted interactions.")
    save_weight = _decimal("Weight of a save.")
    comment_weight = _decimal("Weight of a comment.")
    share_weight = _decimal("Weight of a share.")
    viral_interactions = strict.IntegerField(min_value=0, max_value=2_147_483_647, required=False)
    viral_rate = _decimal("Viral: interaction rate at least (%).")
    viral_min_views = strict.IntegerField(min_value=0, max_value=2_147_483_647, required=False)
    window_days = strict.IntegerField(min_value=7, max_value=730, required=False)
    period_months = strict.IntegerField(min_value=1, max_value=12, required=False)
    grace_percent = strict.IntegerField(min_value=0, max_value=90, required=False)
    score_spend_weight = _decimal("Candidate score: weight of spend.")
    score_engagement_weight = _decimal("Candidate score: weight of engagement.")
    score_posts_weight = _decimal("Candidate score: weight of posts already seen (referrals).")
    score_community_weight = _decimal("Candidate score: weight of community activity.")


class RateSerializer(StrictModelSerializer):
    platform = PlatformField(choices=Platform.choices, read_only=True)

    class Meta:
        model = PlatformRate
        fields = ["id", "platform", "cpm", "cpe", "updated_at"]
        read_only_fields = fields


class RatePutSerializer(StrictBody):
    cpm = strict.DecimalField(max_digits=10, decimal_places=2, min_value=0, help_text="Yuan per 1,000 views.")
    cpe = strict.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False, default="0",
                              help_text="Yuan per weighted interaction.")


class RateInputSerializer(RatePutSerializer):
    platform = PlatformField(choices=Platform.choices)
