"""Dashboard forms of the member centre: the tag vocabulary (groups, tags, merging), a member's
profile edit and the member list's bulk actions. They read and shape input only; the services
decide (members.services.tags, members.services.upsert.update_member, attributes, consent)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import AttributeDefinition, AttributeType, ConsentPurpose, Gender, Member, Tag, TagGroup
from members.services import bulk

NAME_MAX = TagGroup._meta.get_field("name").max_length


class TagGroupForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=NAME_MAX)
    description = forms.CharField(label=_("Description"), max_length=255, required=False)
    multiple = forms.BooleanField(
        label=_("Several tags of this group per member"),
        required=False,
        initial=True,
        help_text=_("Untick for an exclusive group: a member carries at most one of its tags."),
    )
    sort_order = forms.IntegerField(label=_("Order"), min_value=0, initial=0)


class TagForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=Tag._meta.get_field("name").max_length)
    group = forms.ModelChoiceField(label=_("Group"), queryset=TagGroup.objects.order_by("sort_order", "name"))


class MergeTagForm(forms.Form):
    target = forms.ModelChoiceField(
        label=_("Merge into"),
        queryset=Tag.objects.filter(rule__isnull=True).select_related("group"),
    )

    def __init__(self, *args, source: Tag, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["target"]
        field.queryset = field.queryset.exclude(pk=source.pk).order_by("group__sort_order", "group__name", "name")
        field.label_from_instance = lambda t: f"{t.group.name} · {t.name}"


class BulkForm(forms.Form):
    """A bulk action as the list posts it: the rows chosen (`member`) or every match (`target=all`,
    with the list's query in `query`)."""

    action = forms.ChoiceField(choices=[("add_tag", _("Add tag")), ("remove_tag", _("Remove tag"))], label=_("Action"))
    tag = forms.ModelChoiceField(
        queryset=Tag.objects.filter(rule__isnull=True), label=_("Tag"), error_messages={"required": _("Choose a tag.")}
    )
    target = forms.ChoiceField(choices=[("selected", _("Selected rows")), ("all", _("All matching"))])
    member = forms.TypedMultipleChoiceField(coerce=int, required=False)
    query = forms.CharField(required=False, max_length=8000)
    token = forms.CharField(required=False, max_length=bulk.TOKEN_MAX)
    expected = forms.IntegerField(required=False, min_value=0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # ids are checked against the user's scope by the service; here they need only be numbers
        self.fields["member"].valid_value = lambda value: str(value).isdigit()

    def clean(self):
        data = super().clean()
        if data.get("target") == "selected" and not data.get("member"):
            self.add_error("member", _("Tick the members to change, or choose all matching."))
        if data.get("target") == "selected" and len(data.get("member") or []) > bulk.tags_service.MAX_IDS:
            self.add_error("member", _("Too many rows ticked; choose all matching instead."))
        return data


# --- profile ------------------------------------------------------------------------------------

CONSENT_TOGGLES = (
    ConsentPurpose.MARKETING,
    ConsentPurpose.SENSITIVE_DATA,
    ConsentPurpose.GUARDIAN,
    ConsentPurpose.PROFILING,
)


def _attribute_field(definition: AttributeDefinition):
    common = {"label": definition.label, "required": False, "help_text": definition.help_text}
    if definition.type == AttributeType.NUMBER:
        return forms.DecimalField(**common)
    if definition.type == AttributeType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if definition.type == AttributeType.MONTH:
        return forms.CharField(widget=forms.TextInput(attrs={"type": "month"}), **common)
    if definition.type == AttributeType.BOOLEAN:
        return forms.NullBooleanField(
            widget=forms.Select(choices=[("", "—"), ("true", _("Yes")), ("false", _("No"))]), **common
        )
    if definition.type == AttributeType.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *[(c, c) for c in definition.choices]], **common)
    if definition.type == AttributeType.MULTI_CHOICE:
        return forms.MultipleChoiceField(
            choices=[(c, c) for c in definition.choices],
            widget=forms.SelectMultiple(attrs={"data-chips": ""}),
            **common,
        )
    return forms.CharField(max_length=255, **common)


class ProfileForm(forms.Form):
    """A member's profile as the edit page shows it: the fields, the custom attributes the user may
    see (each with its own widget), the consents, and the version the page was loaded at."""

    name = forms.CharField(label=_("Name"), max_length=Member._meta.get_field("name").max_length, required=False)
    birthday = forms.DateField(label=_("Birthday"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    gender = forms.ChoiceField(label=_("Gender"), choices=Gender.choices)
    home_store = forms.ChoiceField(label=_("Home store"), required=False)
    version = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, member: Member, stores, definitions, consents: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.member = member
        self.definitions = list(definitions)
        self.fields["home_store"].choices = [("", "—"), *[(s.code, f"{s.code} {s.name}") for s in stores]]
        for definition in self.definitions:
            self.fields[f"attr_{definition.code}"] = _attribute_field(definition)
        labels = dict(ConsentPurpose.choices)
        for purpose in CONSENT_TOGGLES:
            self.fields[f"consent_{purpose}"] = forms.BooleanField(label=labels[purpose], required=False)
        if not self.is_bound:
            self.initial.update(initial_profile(member, self.definitions, consents))

    def attribute_fields(self):
        return [self[f"attr_{d.code}"] for d in self.definitions]

    def consent_fields(self):
        return [self[f"consent_{p}"] for p in CONSENT_TOGGLES]

    def profile_changes(self) -> dict:
        """The profile fields that differ from the member, in the services' format (PATCH)."""
        data, member = self.cleaned_data, self.member
        changes: dict = {}
        if data["name"] != member.name:
            changes["name"] = data["name"]
        if data["birthday"] != member.birthday:
            changes["birthday"] = data["birthday"].isoformat() if data["birthday"] else None
        if data["gender"] != member.gender:
            changes["gender"] = data["gender"]
        current_store = member.home_store.code if member.home_store_id else ""
        if data["home_store"] != current_store:
            changes["home_store"] = data["home_store"] or None
        values = {}
        for definition in self.definitions:
            new = _attribute_value(definition, data.get(f"attr_{definition.code}"))
            if new != (member.attributes or {}).get(definition.code):
                values[definition.code] = new
        if values:
            changes["attributes"] = values
        return changes

    def consent_changes(self, consents: dict) -> list[tuple[str, bool]]:
        return [
            (p, self.cleaned_data[f"consent_{p}"])
            for p in CONSENT_TOGGLES
            if self.cleaned_data[f"consent_{p}"] != consents.get(p, False)
        ]


def _attribute_value(definition: AttributeDefinition, value):
    """A form value as the attribute services take it (None removes the value)."""
    if value in (None, "", []):
        return None
    if definition.type == AttributeType.NUMBER:
        return int(value) if value == value.to_integral_value() else float(value)
    if definition.type == AttributeType.DATE:
        return value.isoformat()
    return value


def initial_profile(member: Member, definitions, consents: dict) -> dict:
    initial = {
        "name": member.name,
        "birthday": member.birthday,
        "gender": member.gender,
        "home_store": member.home_store.code if member.home_store_id else "",
        "version": version_of(member),
    }
    for definition in definitions:
        value = (member.attributes or {}).get(definition.code)
        if definition.type == AttributeType.BOOLEAN and value is not None:
            value = "true" if value else "false"
        initial[f"attr_{definition.code}"] = value
    for purpose in CONSENT_TOGGLES:
        initial[f"consent_{purpose}"] = consents.get(purpose, False)
    return initial


def version_of(member: Member) -> str:
    """What the edit page was loaded at: the member's last change."""
    return member.updated_at.isoformat()
