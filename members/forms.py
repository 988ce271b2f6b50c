"""Dashboard forms of the member centre: the audience builder on the member list."""

from __future__ import annotations

from itertools import groupby

from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import Gender, Source, Stage, Tag
from members.segments.models import Segment
from scrm.models import Store
from scrm.scoping import scope


class AudienceForm(forms.Form):
    """Everything the builder offers, turned into a segment definition by `definition()`.

    All conditions are combined with AND; within a list, values are alternatives (OR), except
    "has all of" tags. The same definition can be saved as a segment and used by campaigns."""

    tags_any = forms.TypedMultipleChoiceField(label=_("Has any of these tags"), coerce=int, required=False)
    tags_all = forms.TypedMultipleChoiceField(label=_("Has all of these tags"), coerce=int, required=False)
    tags_none = forms.TypedMultipleChoiceField(label=_("Has none of these tags"), coerce=int, required=False)
    stores = forms.TypedMultipleChoiceField(label=_("Home store"), coerce=int, required=False)
    stages = forms.MultipleChoiceField(label=_("5A stage"), choices=Stage.choices, required=False)
    genders = forms.MultipleChoiceField(label=_("Gender"), choices=Gender.choices, required=False)
    sources = forms.MultipleChoiceField(label=_("Source"), choices=Source.choices, required=False)
    joined_within_days = forms.IntegerField(label=_("Joined in the last N days"), min_value=1, required=False)
    birthday_months = forms.TypedMultipleChoiceField(
        label=_("Birthday month"), coerce=int, required=False, choices=[(m, str(m)) for m in range(1, 13)]
    )
    segment = forms.TypedChoiceField(label=_("Saved segment"), coerce=int, required=False, empty_value=None)

    FIELDS = ("tags_any", "tags_all", "tags_none", "stores", "stages", "genders", "sources",
              "joined_within_days", "birthday_months")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        tags = Tag.objects.select_related("group").order_by("group__sort_order", "group__name", "name")
        grouped = [
            (group.name, [(t.pk, t.name) for t in items]) for group, items in groupby(tags, key=lambda t: t.group)
        ]
        for name in ("tags_any", "tags_all", "tags_none"):
            self.fields[name].choices = grouped
        self.fields["stores"].choices = [(s.pk, s.name) for s in scope(Store.objects.order_by("code"), user)]
        self.saved_segments = list(scope(Segment.objects.order_by("name"), user))
        self.fields["segment"].choices = [("", "—")] + [(s.pk, s.name) for s in self.saved_segments]

    @property
    def active(self) -> bool:
        return self.is_bound and self.is_valid() and (
            any(self.cleaned_data.get(f) for f in self.FIELDS) or self.cleaned_data.get("segment")
        )

    def chosen_segment(self) -> Segment | None:
        pk = self.cleaned_data.get("segment") if self.is_valid() else None
        return next((s for s in self.saved_segments if s.pk == pk), None)

    def definition(self) -> dict:
        data = self.cleaned_data
        leaves: list[dict] = []
        for op in ("any", "all", "none"):
            if data.get(f"tags_{op}"):
                leaves.append({"tags": {op: data[f"tags_{op}"]}})
        for field, key in (("stores", "home_store"), ("stages", "stage"), ("genders", "gender"),
                           ("sources", "source"), ("birthday_months", "birthday_month")):
            if data.get(field):
                leaves.append({"field": key, "op": "in", "value": data[field]})
        if data.get("joined_within_days"):
            leaves.append({"field": "joined", "op": "within_days", "value": data["joined_within_days"]})
        segment = self.chosen_segment()
        if segment is not None:
            leaves.append(segment.definition)
        return {"all": leaves}


class SaveSegmentForm(forms.Form):
    name = forms.CharField(label=_("Segment name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=500, required=False)
