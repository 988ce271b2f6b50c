"""Screens of campaigns: the list (filter by status and store, counts by state), a new draft, a
campaign's page (its funnel, suppression reasons in words, its deliveries paged by member id, the
actions the user may take now, polling itself while it sends) and the send policy (operators).
Every rule is the services' (campaigns.services), the same the API calls."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns import attachment_forms, attachment_views, edit_views, queries
from campaigns.filters import CampaignFilterSet, DeliveryFilterSet
from campaigns.forms import CampaignForm, SendPolicyForm
from campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryReason, DeliveryState
from campaigns.services import campaigns as service
from campaigns.services import figures as figures_service
from campaigns.services import policy as policy_service
from campaigns.services import results as results_service
from scrm import permissions
from scrm.dashboard import ScopedDetailView, ScopedListView, scoped_view
from scrm.errors import InvalidInput
from scrm.scoping import get_visible_or_404

S = CampaignStatus
DELIVERY_PAGE = 50
LIVE = (S.SCHEDULED, S.SENDING)  # the page polls itself while these last
# action -> (its service, the states in which the page offers it; the service has the last word)
ACTIONS = {
    "approve": (service.approve, (S.DRAFT,)),
    "send": (service.send, (S.APPROVED,)),
    "pause": (service.pause, (S.SCHEDULED, S.SENDING)),
    "resume": (service.resume, (S.PAUSED,)),
    "cancel": (service.cancel, (S.DRAFT, S.APPROVED, S.SCHEDULED, S.SENDING, S.PAUSED)),
}


def _is_htmx(request) -> bool:
    return bool(getattr(request, "htmx", False) and not request.htmx.boosted)


def actions_for(campaign: Campaign, user) -> list[str]:
    """The actions `user` may take on `campaign` now, in the order the page shows them."""
    if not service.can_approve(user):
        return []
    return [name for name, (_fn, states) in ACTIONS.items() if campaign.status in states]


class CampaignListView(ScopedListView):
    queryset = Campaign.objects.select_related("store", "segment").order_by("-id")
    filterset_class = CampaignFilterSet
    template_name = "campaigns/list.html"
    partial_template_name = "campaigns/rows.html"
    paginate_by = 25

    def narrow(self, queryset):
        # Notices (one campaign per reminder hand-over) and journey sends would drown what operators
        # wrote: they are listed when their kind (or "all") is chosen.
        if not self.request.GET.get("kind"):
            return queryset.filter(queries.OPERATORS_Q)
        return queryset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(context["object_list"])
        counts = queries.counts_by_state([c.pk for c in rows])
        for campaign in rows:
            campaign.counts = counts[campaign.pk]
        context["rows"] = rows
        context["polling"] = any(c.status in LIVE for c in rows)
        return context


@scoped_view
def campaign_create(request):
    status = 200
    if request.method == "POST":
        form = CampaignForm(request.POST, user=request.user)
        rows = attachment_forms.formset(request.POST, request.FILES, optional=True)
        if form.is_valid() and rows.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():  # an upload of a campaign that is refused goes with it
                    campaign = service.create_campaign(actor=request.user, data=service.CampaignInput(
                        name=data["name"], segment_id=data["segment"].pk, channel=data["channel"],
                        content=data["content"], scheduled_at=data["scheduled_at"],
                        holdout_share=data["holdout_share"], store=data.get("store"),
                        recurrence=data["recurrence"],
                        attachments=rows.attachments(actor=request.user, store=data.get("store")),
                    ))
            except InvalidInput as exc:
                rows.discard_uploads()
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Campaign %(name)s saved as a draft.") % {"name": campaign.name})
                return redirect("campaign-detail", pk=campaign.pk)
        status = 400
    else:
        form = CampaignForm(user=request.user, initial={"channel": "outbox"})
        rows = attachment_forms.formset()
    return render(request, "campaigns/form.html", {"form": form, "attachment_rows": rows}, status=status)


class CampaignDetailView(ScopedDetailView):
    queryset = Campaign.objects.select_related("store", "segment", "created_by", "approved_by")
    template_name = "campaigns/detail.html"
    context_object_name = "campaign"

    def get_template_names(self):
        if _is_htmx(self.request):
            return ["campaigns/live.html"]
        return super().get_template_names()

    def _deliveries(self, campaign):
        rows = Delivery.objects.visible_to(self.request.user).filter(campaign=campaign).select_related("member")
        filters = DeliveryFilterSet(self.request.GET or None, queryset=rows)
        if filters.is_bound and not filters.is_valid():
            return filters, [], None
        rows = filters.qs if filters.is_bound else rows
        after = self.request.GET.get("after", "")
        if after.isdigit():
            rows = rows.filter(member_id__gt=int(after))
        page = list(rows.order_by("member_id")[: DELIVERY_PAGE + 1])
        following = page[DELIVERY_PAGE - 1].member_id if len(page) > DELIVERY_PAGE else None
        return filters, page[:DELIVERY_PAGE], following

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        campaign = self.object
        counts = queries.counts_by_state([campaign.pk])[campaign.pk]
        reasons = sorted(queries.counts_by_reason(campaign.pk).items(), key=lambda item: -item[1])
        filters, deliveries, following = self._deliveries(campaign)
        query = self.request.GET.copy()
        query.pop("after", None)
        context.update(
            counts=counts,
            funnel=[(DeliveryState(state).label, state, counts[state]) for state in queries.STATES],
            reasons=[(reason_text(code), code, n) for code, n in reasons],
            filters=filters,
            deliveries=deliveries,
            next_after=following,
            querystring=query.urlencode(),
            poll_query=self.request.GET.urlencode(),
            first_page="after" not in self.request.GET,
            actions=actions_for(campaign, self.request.user),
            polling=campaign.status in LIVE,
            polled=_is_htmx(self.request),
            **edit_views.detail_context(campaign, self.request.user),
            attachments=attachment_views.shown(campaign),
        )
        return context


class CampaignResultsView(ScopedDetailView):
    """A campaign's results (campaigns.services.results), cut to a store role's own store."""

    queryset = Campaign.objects.select_related("store", "segment")
    template_name = "campaigns/results.html"
    context_object_name = "campaign"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        results = results_service.campaign_results(campaign=self.object, actor=self.request.user)
        context.update(results=results, reasons=[(reason_text(r.reason), r) for r in results.reasons])
        return context


def reason_text(code: str) -> str:
    """A reason code in the reader's words (the code itself for one this version does not know)."""
    try:
        return str(DeliveryReason(code).label)
    except ValueError:
        return code


@scoped_view(pk=Campaign)
@require_POST
def campaign_action(request, pk, action):
    if action not in ACTIONS:
        raise PermissionDenied
    campaign = get_visible_or_404(Campaign.objects.all(), request.user, pk=pk)
    function, _states = ACTIONS[action]
    campaign = function(campaign=campaign, actor=request.user)
    messages.success(request, {
        "approve": _("Approved; it can be sent now."),
        "send": _("Sending has started; this page follows it.") if campaign.status == S.SENDING
        else _("Scheduled for %(at)s.") % {"at": campaign.scheduled_at},
        "pause": _("Paused; nothing more is sent until it is resumed."),
        "resume": _("Resumed."),
        "cancel": _("Cancelled; its pending deliveries are recorded as cancelled."),
    }[action])
    return redirect("campaign-detail", pk=campaign.pk)


@scoped_view(pk=Campaign)
@require_POST
def campaign_results_refresh(request, pk):
    """Ask for a large campaign's results summary to be summed again (campaigns.services.figures)."""
    campaign = get_visible_or_404(Campaign.objects.all(), request.user, pk=pk)
    if figures_service.request_refresh(campaign=campaign):
        messages.success(request, _("The figures are being summed again; this page shows them when they are ready."))
    return redirect("campaign-results", pk=campaign.pk)


@scoped_view
def send_policy(request):
    if not permissions.can_write(request.user, policy_service.RESOURCE):
        raise PermissionDenied
    current = policy_service.current()
    status = 200
    if request.method == "POST":
        form = SendPolicyForm(request.POST)
        if form.is_valid():
            try:
                policy_service.update_policy(actor=request.user, values=dict(form.cleaned_data))
            except InvalidInput as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Send policy saved; it holds for every campaign from now on."))
                return redirect("campaign-policy")
        status = 400
    else:
        form = SendPolicyForm(initial={name: getattr(current, name) for name in policy_service.FIELDS})
    return render(request, "campaigns/policy.html", {"form": form, "policy": current}, status=status)


urlpatterns = [
    path("campaigns/", CampaignListView.as_view(), name="campaign-list"),
    path("campaigns/new/", campaign_create, name="campaign-create"),
    path("campaigns/policy/", send_policy, name="campaign-policy"),
    path("campaigns/<int:pk>/", CampaignDetailView.as_view(), name="campaign-detail"),
    path("campaigns/<int:pk>/results/", CampaignResultsView.as_view(), name="campaign-results"),
    path("campaigns/<int:pk>/results/refresh/", campaign_results_refresh, name="campaign-results-refresh"),
    *[path(f"campaigns/<int:pk>/{action}/", campaign_action, {"action": action}, name=f"campaign-{action}")
      for action in ACTIONS],
]
