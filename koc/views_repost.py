"""The post page's official repost to members: a draft WeCom group message to a community's customer
group, or a draft campaign to a segment, written by koc.services.topics.repost; the user lands on the
draft to choose its audience and time and send it through the campaigns' approval flow."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns import channels
from campaigns.services import campaigns as campaign_services
from communities.models import Community
from koc.forms import apply_errors
from koc.models import Post
from koc.services import topics as topic_services
from members.segments.models import Segment
from scrm import permissions
from scrm.dashboard import scoped_view
from scrm.errors import ServiceError
from scrm.scoping import get_visible_or_404, scope


def can_repost_to_members(user) -> bool:
    """Who writes a repost's draft: those who record posts and send campaigns (not store staff)."""
    return permissions.can_write(user, "koc_posts") and campaign_services.can_approve(user)


class RepostForm(forms.Form):
    community = forms.ModelChoiceField(
        label=gettext_lazy("Repost to"), queryset=Community.objects.none(), required=False,
        empty_label=gettext_lazy("As a new campaign (to a segment)"),
        help_text=gettext_lazy("A community: a WeCom group message to its customer group."))
    segment = forms.ModelChoiceField(label=gettext_lazy("Segment (a new campaign)"),
                                     queryset=Segment.objects.none(), required=False)
    channel = forms.ChoiceField(label=gettext_lazy("Channel (a new campaign)"), choices=(), initial="wecom")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = scope(Community.objects.order_by("name", "id"), user)
        self.fields["segment"].queryset = Segment.objects.visible_to(user).order_by("name", "id")
        self.fields["channel"].choices = [(code, label) for code, label in channels.choices()
                                          if code != "wecom_group"]


def _render(request, post, form, status=200):
    partial = bool(request.headers.get("HX-Request"))
    template = "koc/_post_repost_form.html" if partial else "koc/post_repost.html"
    return render(request, template, {"post": post, "form": form}, status=status)


@scoped_view(pk=Post)
def post_repost_draft(request, pk: int):
    post = get_visible_or_404(Post.objects.select_related("creator__member"), request.user, pk=pk)
    if not can_repost_to_members(request.user):
        if request.method != "POST" and request.headers.get("HX-Request"):
            return HttpResponse("")  # the post page's slot stays empty for those who cannot
        raise PermissionDenied
    if request.method != "POST":
        return _render(request, post, RepostForm(user=request.user))
    form = RepostForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        community = data["community"]
        try:
            made = topic_services.repost(
                post=post, actor=request.user, draft="community" if community else "campaign",
                community_id=community.pk if community else None,
                segment_id=data["segment"].pk if data["segment"] else None, channel=data["channel"])
        except ServiceError as exc:
            apply_errors(form, exc)
        else:
            if community:
                messages.success(request, _("Group message to %(community)s written as a draft: approve and send it "
                                            "from its page.") % {"community": community.name})
                return redirect("campaign-detail", pk=made.campaign_id)  # a group message has no edit page
            messages.success(request, _("Campaign written as a draft with the post's link: choose its audience and "
                                        "time, then approve and send it."))
            return redirect("campaign-edit", pk=made.campaign_id)
    return _render(request, post, form, status=400)


urlpatterns: list = [
    path("koc/posts/<int:pk>/repost/draft/", post_repost_draft, name="koc-post-repost-draft"),
]
