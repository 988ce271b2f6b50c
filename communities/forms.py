"""Dashboard forms of communities and events. They read and shape the input only; every rule
(dates, capacity, who may manage, staff of the store) is the services' and comes back as an error
on the field it names (`apply_errors`)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from communities.models import Community, CommunityKind, CommunityStatus
from scrm.models import STORE_ROLES, Store, User
from scrm.scoping import access_for

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj} ({obj.store.name})" if obj.store_id else str(obj)


class StaffMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj} ({obj.store.name})" if obj.store_id else str(obj)


def _stores_for(user):
    access = access_for(user)
    stores = Store.objects.order_by("name")
    return stores if access.all_stores else stores.filter(pk=access.store_id)


def _staff_for(stores):
    return (User.objects.filter(role__in=STORE_ROLES, is_active=True, store__in=stores)
            .select_related("store").order_by("store__name", "display_name", "username"))


def apply_errors(form, details: dict) -> None:
    """A service's field errors onto the form (a field the form lacks: on top)."""
    for name, problems in (details or {}).items():
        problems = problems if isinstance(problems, list | tuple) else [problems]
        form.add_error(name if name in form.fields else None, [str(p) for p in problems])


class CommunityForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    kind = forms.ChoiceField(label=_("Interest"), choices=CommunityKind.choices, initial=CommunityKind.OTHER)
    store = forms.ModelChoiceField(label=_("Store"), queryset=Store.objects.none())
    owner = StaffChoiceField(label=_("Owner (sports ambassador)"), queryset=User.objects.none(),
                             help_text=_("A staff member of the community's store."))
    assistants = StaffMultipleChoiceField(label=_("Assistants"), queryset=User.objects.none(), required=False,
                                          help_text=_("Staff of the community's store who help run it."))
    capacity = forms.IntegerField(label=_("Capacity"), min_value=1, required=False,
                                  help_text=_("Most members at once; empty: no limit."))
    status = forms.ChoiceField(label=_("Status"), choices=CommunityStatus.choices, initial=CommunityStatus.ACTIVE)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}), required=False,
                                  max_length=5000)

    def __init__(self, *args, user, community: Community | None = None, **kwargs):
        if community is not None:
            kwargs.setdefault("initial", {
                "name": community.name, "kind": community.kind, "store": community.store_id,
                "owner": community.owner_id, "assistants": list(community.assistants.values_list("pk", flat=True)),
                "capacity": community.capacity, "status": community.status, "description": community.description,
            })
        super().__init__(*args, **kwargs)
        self.community = community
        stores = _stores_for(user)
        self.fields["store"].queryset = stores
        if community is not None:  # a community stays in its store
            self.fields["store"].disabled = True
            self.fields["store"].queryset = Store.objects.filter(pk=community.store_id)
        else:
            del self.fields["status"]  # a new community starts active
        self.fields["owner"].queryset = _staff_for(stores)
        self.fields["assistants"].queryset = _staff_for(stores)


class EventForm(forms.Form):
    community = forms.ModelChoiceField(label=_("Community"), queryset=Community.objects.none(), required=False,
                                       empty_label=_("Brand-wide (no community)"))
    store = forms.ModelChoiceField(label=_("Host store"), queryset=Store.objects.none(), required=False,
                                   help_text=_("For a brand-wide event only; a community's event is its store's."))
    title = forms.CharField(label=_("Title"), max_length=100)
    starts_at = forms.DateTimeField(label=_("Starts at"), widget=DATETIME)
    ends_at = forms.DateTimeField(label=_("Ends at"), widget=DATETIME)
    place = forms.CharField(label=_("Place"), max_length=200)
    capacity = forms.IntegerField(label=_("Capacity"), min_value=1)
    signup_opens_at = forms.DateTimeField(label=_("Sign-up opens"), widget=DATETIME, required=False,
                                          help_text=_("Empty: open at once."))
    signup_closes_at = forms.DateTimeField(label=_("Sign-up closes"), widget=DATETIME, required=False,
                                           help_text=_("Empty: when the event starts."))
    walk_ins_allowed = forms.BooleanField(label=_("Walk-ins allowed"), required=False, initial=True,
                                          help_text=_("Whether members who did not sign up may be checked in."))
    ask_feedback = forms.BooleanField(
        label=_("Ask attendees for feedback"), required=False, initial=True,
        help_text=_("Members checked in get a message with their feedback link two hours after the end."))
    points_price = forms.IntegerField(label=_("Price in points"), min_value=0, initial=0,
                                      help_text=_("Points a member spends when a seat becomes theirs; 0: free."))
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}), required=False,
                                  max_length=5000)

    EDITABLE = ("title", "starts_at", "ends_at", "place", "capacity", "signup_opens_at", "signup_closes_at",
                "walk_ins_allowed", "ask_feedback", "points_price", "description")

    def __init__(self, *args, user, communities, event=None, **kwargs):
        if event is not None:
            kwargs.setdefault("initial", {name: getattr(event, name) for name in self.EDITABLE})
        super().__init__(*args, **kwargs)
        self.event = event
        self.fields["community"].queryset = communities
        brand_wide = access_for(user).all_stores
        if event is not None or not brand_wide:
            del self.fields["store"]
        else:
            self.fields["store"].queryset = Store.objects.order_by("name")
        if event is not None:
            del self.fields["community"]  # an event stays in its community
        elif not brand_wide:
            self.fields["community"].required = True
            self.fields["community"].empty_label = None
