"""Dashboard and phone forms of the KOC programme, and the filters of its lists. They read and shape
the input only; every rule (the same link twice, a counter going down, a ladder with gaps, who may
do what) is the services' and comes back as an error beside the field it names (`apply_errors`)."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from communities.models import Community
from koc.models import (
    Application,
    ApplicationState,
    BenefitKind,
    Creator,
    CreatorStatus,
    Level,
    Platform,
    Post,
    Programme,
    Topic,
)
from scrm.filters import StoreFilter

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
PLATFORM_CHOICES = [("", _("Detect from the link"))] + list(Platform.choices)


def apply_errors(form, exc) -> None:
    """A service error onto the form: its field errors beside the fields it names; when it names
    none of the form's fields, its message above the form."""
    placed = False
    for name, problems in (getattr(exc, "details", None) or {}).items():
        if name not in form.fields:
            continue
        for problem in problems if isinstance(problems, list | tuple) else [problems]:
            form.add_error(name, str(problem))
        placed = True
    if not placed:
        form.add_error(None, exc.message)


class CreatorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.member.name} · {obj.level.name}" if obj.level_id else obj.member.name


# --- list filters ---------------------------------------------------------------------------------


class CreatorFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Name"))
    level = django_filters.ModelChoiceFilter(queryset=Level.objects.order_by("rank"), label=_("Level"))
    status = django_filters.ChoiceFilter(choices=CreatorStatus.choices, label=_("Status"))
    store = StoreFilter(field_name="member__home_store", label=_("Store"))
    platform = django_filters.ChoiceFilter(choices=Platform.choices, method="on_platform", label=_("Platform"))

    class Meta:
        model = Creator
        fields = ["q", "level", "status", "store", "platform"]

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(member__name__icontains=value) if value else queryset

    def on_platform(self, queryset, name, value):
        return queryset.filter(accounts__platform=value).distinct() if value else queryset


class PostFilterSet(django_filters.FilterSet):
    platform = django_filters.ChoiceFilter(choices=Platform.choices, label=_("Platform"))
    topic = django_filters.ModelChoiceFilter(queryset=Topic.objects.order_by("-starts_at"), label=_("Topic"))
    viral = django_filters.BooleanFilter(label=_("Viral"))
    creator = django_filters.NumberFilter(field_name="creator_id", label=_("Creator"),
                                          widget=forms.HiddenInput)
    published_after = django_filters.DateFilter(field_name="published_at", lookup_expr="date__gte",
                                                label=_("Published from"),
                                                widget=forms.DateInput(attrs={"type": "date"}))
    published_before = django_filters.DateFilter(field_name="published_at", lookup_expr="date__lte",
                                                 label=_("Published until"),
                                                 widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = Post
        fields = ["platform", "topic", "viral", "creator", "published_after", "published_before"]


class ApplicationFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=ApplicationState.choices, label=_("State"))

    class Meta:
        model = Application
        fields = ["state"]


# --- creators -------------------------------------------------------------------------------------


class CreatorForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=CreatorStatus.choices)
    mentor = CreatorChoiceField(label=_("Mentor"), queryset=Creator.objects.none(), required=False,
                                empty_label=_("No mentor"))
    bio = forms.CharField(label=_("About"), max_length=280, required=False,
                          widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, creator: Creator, mentors, **kwargs):
        kwargs.setdefault("initial", {"status": creator.status, "mentor": creator.mentor_id, "bio": creator.bio})
        super().__init__(*args, **kwargs)
        self.fields["mentor"].queryset = mentors.exclude(pk=creator.pk)


class AccountForm(forms.Form):
    platform = forms.ChoiceField(label=_("Platform"), choices=Platform.choices)
    handle = forms.CharField(label=_("Account name or id"), max_length=80)
    url = forms.URLField(label=_("Profile link"), max_length=500, required=False, assume_scheme="https")
    followers = forms.IntegerField(label=_("Followers"), min_value=0, initial=0)


class SetLevelForm(forms.Form):
    level = forms.ModelChoiceField(label=_("Level"), queryset=Level.objects.order_by("rank"), required=False,
                                   empty_label=_("No level"))
    reason = forms.CharField(label=_("Reason"), max_length=200)


class AdmitForm(forms.Form):
    member = forms.IntegerField(label=_("Member id"), min_value=1)
    bio = forms.CharField(label=_("About"), max_length=280, required=False)


# --- applications ---------------------------------------------------------------------------------


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=280)


class ApproveForm(forms.Form):
    mentor = CreatorChoiceField(label=_("Mentor"), queryset=Creator.objects.none(), required=False,
                                empty_label=_("No mentor"))

    def __init__(self, *args, mentors, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mentor"].queryset = mentors


# --- posts ----------------------------------------------------------------------------------------


class PostForm(forms.Form):
    creator = CreatorChoiceField(label=_("Creator"), queryset=Creator.objects.none())
    url = forms.CharField(label=_("Link"), max_length=500,
                          widget=forms.URLInput(attrs={"inputmode": "url", "autocomplete": "off",
                                                       "placeholder": "https://www.xiaohongshu.com/explore/…"}))
    platform = forms.ChoiceField(label=_("Platform"), choices=PLATFORM_CHOICES, required=False,
                                 help_text=_("Left empty, the platform is read from the link."))
    topic = forms.ModelChoiceField(label=_("Topic"), queryset=Topic.objects.none(), required=False,
                                   empty_label=_("No topic"))
    published_at = forms.DateTimeField(label=_("Published at"), widget=DATETIME)
    title = forms.CharField(label=_("Title"), max_length=200, required=False)

    def __init__(self, *args, creators, topics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["creator"].queryset = creators
        self.fields["topic"].queryset = topics


class SnapshotForm(forms.Form):
    taken_at = forms.DateTimeField(label=_("Read at"), widget=DATETIME)
    views = forms.IntegerField(label=_("Views"), min_value=0)
    likes = forms.IntegerField(label=_("Likes"), min_value=0, initial=0)
    saves = forms.IntegerField(label=_("Saves"), min_value=0, initial=0)
    comments = forms.IntegerField(label=_("Comments"), min_value=0, initial=0)
    shares = forms.IntegerField(label=_("Shares"), min_value=0, initial=0)
    followers_gained = forms.IntegerField(label=_("Followers gained"), min_value=0, initial=0)

    COUNTERS = ("views", "likes", "saves", "comments", "shares", "followers_gained")


class RepostForm(forms.Form):
    community = forms.IntegerField(label=_("Community"), required=False, widget=forms.HiddenInput)
    campaign = forms.IntegerField(label=_("Campaign"), required=False, widget=forms.HiddenInput)


# --- topics, launches, settings -------------------------------------------------------------------


class TopicForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120)
    brief = forms.CharField(label=_("Brief"), max_length=4000, widget=forms.Textarea(attrs={"rows": 5}))
    platforms = forms.MultipleChoiceField(label=_("Platforms"), choices=Platform.choices, required=False,
                                          widget=forms.CheckboxSelectMultiple,
                                          help_text=_("None ticked: any platform."))
    starts_at = forms.DateTimeField(label=_("Starts at"), widget=DATETIME)
    ends_at = forms.DateTimeField(label=_("Ends at"), widget=DATETIME)
    min_level = forms.ModelChoiceField(label=_("Open from level"), queryset=Level.objects.order_by("rank"),
                                       required=False, empty_label=_("Every creator"))
    reward_points = forms.IntegerField(label=_("Reward (points)"), min_value=0, initial=0)
    reward_sample = forms.CharField(label=_("Reward (sample)"), max_length=120, required=False)

    FIELDS = ("title", "brief", "platforms", "starts_at", "ends_at", "min_level", "reward_points", "reward_sample")

    def __init__(self, *args, topic: Topic | None = None, **kwargs):
        if topic is not None:
            initial = {name: getattr(topic, name) for name in self.FIELDS if name != "min_level"}
            initial["min_level"] = topic.min_level_id
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        level = data.pop("min_level")
        data["min_level_id"] = level.pk if level else None
        data["platforms"] = list(data["platforms"])
        return data


class BenefitForm(forms.Form):
    level = forms.ModelChoiceField(label=_("From level"), queryset=Level.objects.order_by("rank"))
    kind = forms.ChoiceField(label=_("Kind"), choices=BenefitKind.choices)
    name = forms.CharField(label=_("Name"), max_length=80)
    early_days = forms.IntegerField(label=_("Days before the public"), min_value=1, required=False,
                                    help_text=_("Early access only: how many days before a launch's public date."))
    community = forms.ModelChoiceField(label=_("Community"), queryset=Community.objects.none(), required=False,
                                       help_text=_("The senior creators' community: its holders are its members."))
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, communities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = communities

    def values(self) -> dict:
        data = self.cleaned_data
        return {"level_id": data["level"].pk, "kind": data["kind"], "name": data["name"],
                "description": data["description"], "early_days": data["early_days"],
                "community_id": data["community"].pk if data["community"] else None}


class LaunchForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    public_at = forms.DateTimeField(label=_("Public from"), widget=DATETIME)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ProgrammeForm(forms.ModelForm):
    class Meta:
        model = Programme
        fields = ["like_weight", "save_weight", "comment_weight", "share_weight", "viral_interactions",
                  "viral_rate", "viral_min_views", "window_days", "period_months", "grace_percent",
                  "score_spend_weight", "score_engagement_weight", "score_posts_weight", "score_community_weight"]


class RateForm(forms.Form):
    platform = forms.ChoiceField(label=_("Platform"), choices=Platform.choices)
    cpm = forms.DecimalField(label=_("Cost per 1,000 views (yuan)"), min_value=0, max_digits=10, decimal_places=2)
    cpe = forms.DecimalField(label=_("Cost per interaction (yuan)"), min_value=0, max_digits=10, decimal_places=2,
                             initial=0)

