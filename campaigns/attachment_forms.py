"""The dashboard's attachment rows of a campaign: a formset of up to nine rows, each an image, a link or
a mini-program card (a row with no type is left out), reordered by their order numbers and removed
by their remove box, so adding, removing and reordering works without script. The rules (kinds,
lengths, the channel's limits) are the services' (campaigns.attachments, campaigns.services.attachments);
their errors come back on the formset, each naming its attachment."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns import attachments as kinds
from campaigns.models import CampaignImage
from campaigns.services import attachments as service
from scrm.errors import InvalidInput

EXTRA = 3  # empty rows offered below the attachments a campaign has


class AttachmentForm(forms.Form):
    type = forms.ChoiceField(label=_("Attachment"), required=False,
                             choices=[("", _("None")), (kinds.IMAGE, _("Image")), (kinds.LINK, _("Link")),
                                      (kinds.MINIPROGRAM, _("Mini-program card"))])
    file = forms.FileField(label=_("Image file"), required=False,
                           widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
                           help_text=_("JPG or PNG, at most 10 MB: an image, or a mini-program card's cover."))
    image = forms.IntegerField(widget=forms.HiddenInput, required=False)  # the image it already has
    title = forms.CharField(label=_("Title"), required=False, max_length=200,
                            help_text=_("A link's or a mini-program card's."))
    url = forms.CharField(label=_("Link address"), required=False, max_length=2000,
                          widget=forms.URLInput(attrs={"placeholder": "https://"}))
    description = forms.CharField(label=_("Description"), required=False, max_length=600,
                                  help_text=_("Optional, a link's."))
    picture_url = forms.CharField(label=_("Picture address"), required=False, max_length=2000,
                                  widget=forms.URLInput(attrs={"placeholder": "https://"}),
                                  help_text=_("Optional, a link's picture."))
    appid = forms.CharField(label=_("Mini-program appid"), required=False, max_length=40)
    page = forms.CharField(label=_("Mini-program page"), required=False, max_length=1000,
                           widget=forms.TextInput(attrs={"placeholder": "pages/index/index"}))


class BaseAttachmentFormSet(forms.BaseFormSet):
    def is_valid(self) -> bool:
        return True if not self.is_bound else super().is_valid()  # unbound: no rows were posted

    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields["ORDER"].label = _("Position")
        form.fields["DELETE"].label = _("Remove")

    def ordered_rows(self) -> list[dict]:
        """The rows with a type, not removed, in their order (a row without an order number keeps its
        place after the numbered ones)."""
        if not self.is_bound:
            return []
        rows = []
        for position, form in enumerate(self.forms):
            data = getattr(form, "cleaned_data", None) or {}
            if not data.get("type") or data.get("DELETE"):
                continue
            order = data.get("ORDER")
            rows.append((order if order is not None else 1000 + position, position, data))
        return [data for _order, _position, data in sorted(rows, key=lambda row: row[:2])]

    def attachments(self, *, actor, store) -> list[dict]:
        """The rows as the service takes attachments, uploading each new image file first (the
        service's InvalidInput names the row's file); `discard_uploads` removes those files again
        when the campaign is refused."""
        self.uploaded: list[CampaignImage] = []
        out = []
        for position, data in enumerate(self.ordered_rows()):
            kind = data["type"]
            item: dict = {"type": kind}
            if kind in (kinds.IMAGE, kinds.MINIPROGRAM):
                if data.get("file"):
                    try:
                        image = service.upload_image(actor=actor, file=data["file"], store=store)
                        self.uploaded.append(image)
                        item["image"] = image.pk
                    except InvalidInput as exc:
                        messages = [str(m) for m in (exc.details or {}).get("file", [exc.message])]
                        raise InvalidInput(details={"attachments": [
                            f"{kinds.label(position, kind)}: {m}" for m in messages]}) from None
                else:
                    item["image"] = data.get("image")
            for field in kinds.FIELDS[kind]:
                if field != "image":
                    item[field] = data.get(field) or ""
            out.append(item)
        return out


    def discard_uploads(self) -> None:
        """Remove the files this post uploaded (their rows went with the refused campaign's transaction)."""
        for image in getattr(self, "uploaded", []):
            service.discard_file(image)
        self.uploaded = []


AttachmentFormSet = forms.formset_factory(AttachmentForm, formset=BaseAttachmentFormSet, extra=EXTRA,
                                          max_num=kinds.MAX, absolute_max=kinds.MAX + EXTRA, can_order=True,
                                          can_delete=True)
PREFIX = "attachments"


def formset(data=None, files=None, *, attachments=None, optional: bool = False) -> BaseAttachmentFormSet:
    """The rows of `attachments` (a campaign's) followed by EXTRA empty ones; bound when `data` is.
    `optional`: a post without the rows (a client sending the campaign's fields only) means none."""
    if optional and data is not None and f"{PREFIX}-TOTAL_FORMS" not in data:
        data = files = None
    initial = [{"type": a["type"], "image": a.get("image"), "title": a.get("title", ""), "url": a.get("url", ""),
                "description": a.get("description", ""), "picture_url": a.get("picture_url", ""),
                "appid": a.get("appid", ""), "page": a.get("page", ""), "ORDER": position + 1}
               for position, a in enumerate(attachments or [])]
    return AttachmentFormSet(data, files, prefix=PREFIX, initial=initial or None)
