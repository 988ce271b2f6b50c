"""The planned post's form: the date and time in the brand's time zone, the pickers cut to what the
user may see. Shape only; the rules are the services'."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from journeys.calendar.models import (
    MAX_IMAGES,
    TEXT_MAX_BYTES,
    TITLE_MAX,
    URL_MAX,
    PlannedPost,
    PostAudience,
    PostKind,
)
from journeys.calendar.services import PostInput
from members.models import Tag
from scrm.models import STORE_ROLES, Store, User
from scrm.scoping import scope


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several files under one name; their checks (type by bytes, size, count) are the services'."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": "image/jpeg,image/png", "multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleImageField, self).clean(f, initial) for f in files]


class PostForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=TITLE_MAX, help_text=_("For the calendar; not posted."))
    kind = forms.ChoiceField(label=_("Kind"), choices=PostKind.choices, initial=PostKind.MOMENT)
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(label=_("Time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                           initial=dt.time(10, 0))
    text = forms.CharField(label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 6}),
                           help_text=_("At most %(max)d bytes.") % {"max": TEXT_MAX_BYTES})
    link_url = forms.URLField(label=_("Link"), required=False, max_length=URL_MAX, assume_scheme="https")
    link_title = forms.CharField(label=_("Link title"), required=False, max_length=TITLE_MAX)
    image_url = forms.URLField(label=_("Image address"), required=False, max_length=URL_MAX, assume_scheme="https",
                               help_text=_("Shown to the staff who post it, to save and add."))
    keep_images = forms.TypedMultipleChoiceField(
        label=_("Images"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple,
        help_text=_("Untick an image to take it off the post."))
    images = MultipleImageField(
        label=_("Add images"), required=False,
        help_text=_("JPG or PNG, at most 10 MB each, at most %(max)d in all. A Moment carries images or a link, "
                    "not both.") % {"max": MAX_IMAGES})
    audience = forms.ChoiceField(label=_("Who posts"), choices=PostAudience.choices, initial=PostAudience.STORE)
    store = forms.ModelChoiceField(label=_("Store"), queryset=Store.objects.none(), required=False,
                                   empty_label=_("Brand-wide"), to_field_name="code")
    staff = forms.ModelMultipleChoiceField(label=_("Chosen staff"), queryset=User.objects.none(), required=False,
                                           widget=forms.SelectMultiple(attrs={"size": 6}))
    tags = forms.ModelMultipleChoiceField(label=_("Visible to customers tagged"), queryset=Tag.objects.none(),
                                          required=False, widget=forms.SelectMultiple(attrs={"size": 6}),
                                          help_text=_("Moments only; empty: all of each sender's customers."))

    def __init__(self, *args, user, post: PlannedPost | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        from journeys.calendar.services import images_of

        current = images_of(post) if post is not None else []
        self.fields["keep_images"].choices = [(i.pk, i.name) for i in current]
        self.current_images = current
        if not current:
            del self.fields["keep_images"]
        self.fields["store"].queryset = scope(Store.objects.filter(is_active=True).order_by("code"), user)
        self.fields["staff"].queryset = scope(
            User.objects.filter(is_active=True, role__in=STORE_ROLES, wecom__isnull=False)
            .select_related("store").order_by("store__code", "username"), user)
        self.fields["staff"].label_from_instance = lambda u: f"{u} · {u.store.code if u.store_id else '-'}"
        self.fields["tags"].queryset = Tag.objects.filter(wecom__isnull=False, wecom__unlinked_at__isnull=True) \
            .select_related("group").order_by("group__name", "name")
        self.fields["tags"].label_from_instance = lambda t: f"{t.group.name} · {t.name}" if t.group_id else t.name

    @classmethod
    def initial_for(cls, post: PlannedPost) -> dict:
        local = timezone.localtime(post.publish_at)
        return {"title": post.title, "kind": post.kind, "date": local.date(), "time": local.time().replace(second=0),
                "text": post.text, "link_url": post.link_url, "link_title": post.link_title,
                "image_url": post.image_url, "audience": post.audience, "store": post.store,
                "staff": list(post.staff_ids), "tags": list(post.tag_ids), "keep_images": list(post.image_ids)}

    def to_input(self) -> PostInput:
        data = self.cleaned_data
        when = timezone.make_aware(dt.datetime.combine(data["date"], data["time"]), timezone.get_current_timezone())
        return PostInput(title=data["title"], kind=data["kind"], publish_at=when, text=data["text"],
                         link_url=data["link_url"], link_title=data["link_title"], image_url=data["image_url"],
                         audience=data["audience"], store=data["store"],
                         staff_ids=[u.pk for u in data["staff"]], tag_ids=[t.pk for t in data["tags"]],
                         image_ids=list(data.get("keep_images") or []))
