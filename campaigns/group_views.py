"""Screens of group messages: writing a campaign to WeCom customer groups (chosen groups, every group
of a store, or of chosen owners; a store manager's only reach their store), and a campaign's group
deliveries with their counts by state, which the campaign page loads into itself."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.api.group_messages import GroupDeliveryFilterSet
from campaigns.models import Campaign, GroupDelivery
from campaigns.services import campaigns as lifecycle
from campaigns.services import group_messages
from scrm.dashboard import ScopedListView, scoped_view
from scrm.errors import ServiceError
from scrm.models import Store
from scrm.scoping import scope
from wecom.models import CustomerGroup, WecomStaff


class GroupCampaignForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    content = forms.CharField(label=gettext_lazy("Message"), widget=forms.Textarea(attrs={"rows": 4}),
                              help_text=gettext_lazy("One text for every group, at most 4,000 bytes: no personal "
                                                     "fields."))
    groups = forms.ModelMultipleChoiceField(label=gettext_lazy("Customer groups"), required=False,
                                            queryset=CustomerGroup.objects.none())
    store = forms.ModelChoiceField(label=gettext_lazy("Every group of the store"), required=False,
                                   queryset=Store.objects.none())
    owners = forms.ModelMultipleChoiceField(label=gettext_lazy("Every group of these owners"), required=False,
                                            queryset=WecomStaff.objects.none())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        groups = group_messages_groups(user)
        self.fields["groups"].queryset = groups
        self.fields["groups"].label_from_instance = lambda g: f"{g.name or g.chat_id} · {g.owner_userid} · " \
                                                               f"{g.member_count}"
        self.fields["store"].queryset = scope(Store.objects.order_by("code"), user)
        self.fields["owners"].queryset = scope(WecomStaff.objects.filter(
            owned_groups__dismissed_at__isnull=True).distinct().order_by("userid"), user)


def group_messages_groups(user):
    return CustomerGroup.objects.visible_to(user).filter(dismissed_at__isnull=True).order_by("store_id", "name")


@scoped_view
def group_campaign_create(request):
    if not lifecycle.can_approve(request.user):
        raise PermissionDenied
    form = GroupCampaignForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                campaign = group_messages.create_group_campaign(
                    actor=request.user, name=data["name"], content=data["content"], groups=data["groups"],
                    owners=data["owners"], store=data["store"])
            except ServiceError as exc:
                for field, errors in (exc.details or {}).items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
                if not exc.details:
                    form.add_error(None, exc.message)
            else:
                messages.success(request, _("Group message %(name)s written: approve and send it from its page.")
                                 % {"name": campaign.name})
                return redirect("campaign-detail", campaign.pk)
        status = 400
    return render(request, "campaigns/group_form.html", {"form": form}, status=status)


class CampaignGroupDeliveryView(ScopedListView):
    """A group campaign's deliveries with counts by state; its htmx partial is the panel the campaign
    page loads."""

    queryset = GroupDelivery.objects.select_related("group", "store", "task").order_by("id")
    filterset_class = GroupDeliveryFilterSet
    parent_queryset = Campaign.objects.all()
    parent_field = "campaign"
    parent_attr = "campaign"
    template_name = "campaigns/group_deliveries.html"
    partial_template_name = "campaigns/_group_deliveries.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["campaign"] = self.campaign
        context["group_counts"] = group_messages.counts(self.campaign, self.request.user)
        return context


urlpatterns = [
    path("campaigns/new/groups/", group_campaign_create, name="campaign-group-create"),
    path("campaigns/<int:pk>/groups/", CampaignGroupDeliveryView.as_view(), name="campaign-group-deliveries"),
]
