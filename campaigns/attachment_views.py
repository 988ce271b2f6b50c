"""Screens of a campaign's attachments: the rows of a draft or an approved campaign (add, remove,
reorder; saving returns an approved one to draft, as any edit does), the attachments on the
campaign's page, and an image's file for them (signed-in users who may see the image)."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from campaigns import attachment_forms
from campaigns.attachments import KIND_LABELS
from campaigns.models import Campaign, CampaignImage
from campaigns.services import attachments as attachment_service
from campaigns.services import campaigns as service
from scrm.dashboard import scoped_view
from scrm.errors import InvalidInput
from scrm.scoping import get_visible_or_404


def shown(campaign: Campaign) -> list[dict]:
    """The campaign's attachments for its page: each with its kind's label and its image's address."""
    rows = attachment_service.described(campaign)
    for row in rows:
        row["label"] = KIND_LABELS.get(row["type"], row["type"])
        if row.get("image_info"):
            row["image_url"] = reverse("campaign-image", args=[row["image_info"]["id"]])
    return rows


@scoped_view(pk=Campaign)
def campaign_attachments(request, pk):
    campaign = get_visible_or_404(Campaign.objects.select_related("store"), request.user, pk=pk)
    service.check_editable(campaign)  # 409 naming the status
    status = 200
    errors: list[str] = []
    if request.method == "POST":
        rows = attachment_forms.formset(request.POST, request.FILES, attachments=campaign.attachments)
        if rows.is_valid():
            try:
                with transaction.atomic():
                    campaign, cleared = service.update_campaign(campaign=campaign, actor=request.user, changes={
                        "attachments": rows.attachments(actor=request.user, store=campaign.store)})
            except InvalidInput as exc:
                rows.discard_uploads()
                errors = [str(m) for found in (exc.details or {}).values() for m in found] or [exc.message]
            else:
                messages.success(request, _("Attachments saved; the campaign is a draft again: approve it once "
                                            "more to send it.") if cleared else _("Attachments saved."))
                return redirect("campaign-detail", pk=campaign.pk)
        status = 400
    else:
        rows = attachment_forms.formset(attachments=campaign.attachments)
    return render(request, "campaigns/attachments_form.html",
                  {"campaign": campaign, "attachment_rows": rows, "attachment_errors": errors,
                   "attachments": shown(campaign)}, status=status)


@scoped_view(pk=CampaignImage)
def campaign_image(request, pk):
    image = get_visible_or_404(CampaignImage.objects.all(), request.user, pk=pk)
    try:
        handle = image.file.open("rb")
    except OSError:
        raise Http404 from None
    response = FileResponse(handle, content_type=image.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


urlpatterns = [
    path("campaigns/<int:pk>/attachments/", campaign_attachments, name="campaign-attachments"),
    path("campaigns/images/<int:pk>/", campaign_image, name="campaign-image"),
]
