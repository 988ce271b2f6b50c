"""Screens of a campaign's edit (a draft or an approved one: saving returns an approved one to
draft), its series (the rule, the next run, the runs) and its test sends to staff. The rules are
the services' (campaigns.services.campaigns.update_campaign, .recurrence, .test_sends)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns import queries
from campaigns.edit_forms import TestSendForm, initial_of
from campaigns.forms import CampaignForm
from campaigns.models import Campaign, CampaignStatus
from campaigns.services import campaigns as service
from campaigns.services import recurrence, test_sends
from scrm import permissions
from scrm.dashboard import scoped_view
from scrm.errors import InvalidInput
from scrm.scoping import get_visible_or_404

S = CampaignStatus
RUNS_SHOWN = 20
TEST_SENDS_SHOWN = 20


def can_edit(campaign: Campaign, user) -> bool:
    return (campaign.status in service.EDITABLE and campaign.parent_id is None
            and permissions.can_write(user, service.RESOURCE))


def detail_context(campaign: Campaign, user) -> dict:
    """What the campaign's page shows of its series, its edit link and its test sends."""
    context = {"can_edit": can_edit(campaign, user), "series_text": recurrence.describe(campaign),
               "can_test_send": permissions.can_write(user, service.RESOURCE), "series_stop": service.Stopped()}
    if campaign.repeat:
        runs = list(recurrence.runs_of(campaign).visible_to(user)[:RUNS_SHOWN])
        counts = queries.counts_by_state([r.pk for r in runs])
        for run in runs:
            run.counts = counts[run.pk]
        upcoming = []
        if campaign.status in (S.DRAFT, S.APPROVED):
            upcoming = recurrence.occurrences(recurrence.Rule.of(campaign), after=timezone.now(), limit=3)
        elif campaign.next_occurrence_at:
            upcoming = [campaign.next_occurrence_at]
        context.update(runs=runs, upcoming=upcoming)
        if campaign.status in service.OPEN_RUN:  # cancelling it stops these too (its confirm says so)
            context["series_stop"] = service.stop_preview(campaign)
    if context["can_test_send"]:
        context.update(
            test_sends=list(test_sends.list_for(campaign, user)[:TEST_SENDS_SHOWN]),
            test_send_form=TestSendForm(staff=test_sends.staff_in_reach(user)),
            test_sends_left=max(test_sends.DAILY_LIMIT - test_sends.sent_today(campaign, timezone.now()), 0),
        )
    return context


@scoped_view(pk=Campaign)
def campaign_edit(request, pk):
    campaign = get_visible_or_404(Campaign.objects.select_related("store"), request.user, pk=pk)
    service.check_editable(campaign)  # 409 naming the status (the middleware's page)
    status = 200
    if request.method == "POST":
        form = CampaignForm(request.POST, user=request.user)
        form.fields.pop("store", None)  # a campaign's store does not change
        if form.is_valid():
            data = form.cleaned_data
            try:
                campaign, cleared = service.update_campaign(campaign=campaign, actor=request.user, changes={
                    "name": data["name"], "segment_id": data["segment"].pk, "channel": data["channel"],
                    "content": data["content"], "scheduled_at": data["scheduled_at"],
                    "holdout_share": data["holdout_share"], "recurrence": data["recurrence"],
                })
            except InvalidInput as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Saved; it was approved before and is a draft again: approve it once "
                                            "more to send it.") if cleared else _("Saved."))
                return redirect("campaign-detail", pk=campaign.pk)
        status = 400
    else:
        form = CampaignForm(user=request.user, initial=initial_of(campaign))
        form.fields.pop("store", None)
    return render(request, "campaigns/form.html", {"form": form, "editing": campaign}, status=status)


@scoped_view(pk=Campaign)
@require_POST
def campaign_test_send(request, pk):
    campaign = get_visible_or_404(Campaign.objects.all(), request.user, pk=pk)
    form = TestSendForm(request.POST, staff=test_sends.staff_in_reach(request.user))
    if not form.is_valid():
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
        messages.error(request, _("Test send not made: %(problems)s") % {"problems": problems})
        return redirect("campaign-detail", pk=campaign.pk)
    try:
        rows = test_sends.send_test(campaign=campaign, actor=request.user,
                                    recipient_ids=[u.pk for u in form.cleaned_data["recipients"]],
                                    sample_member_id=form.cleaned_data["sample_member"])
    except InvalidInput as exc:
        problems = " ".join(str(m) for errors in exc.details.values() for m in errors) or exc.message
        messages.error(request, _("Test send not made: %(problems)s") % {"problems": problems})
        return redirect("campaign-detail", pk=campaign.pk)
    for row in rows:
        text = _("Test send to %(name)s: %(outcome)s") % {"name": row.recipient_label,
                                                          "outcome": row.get_outcome_display()}
        if row.error:
            messages.error(request, f"{text} — {row.error}")
        else:
            messages.success(request, text)
    return redirect("campaign-detail", pk=campaign.pk)


urlpatterns = [
    path("campaigns/<int:pk>/edit/", campaign_edit, name="campaign-edit"),
    path("campaigns/<int:pk>/test-sends/", campaign_test_send, name="campaign-test-send"),
]
