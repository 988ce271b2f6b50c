"""FilterSets for the organisation, shared by the dashboard lists and the API lists."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from scrm.models import ApiKey, Region, Role, Store, User

STORE_FILTER_HELP = _(
    "Store code, such as SH01 (stores are named by code everywhere). A number that is no store's code is "
    "read as a store id, for older clients; a number that is one store's code and another store's id is refused."
)


class StoreChoiceField(django_filters.fields.ModelChoiceField):
    """A store by its code; a number that is no store's code is taken as its id, and a value that would
    name two different stores (one's code, another's id) is refused rather than guessed."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip()
        by_code = self.queryset.filter(code=text).first()
        by_id = self.queryset.filter(pk=int(text)).first() if text.isdigit() and len(text) < 19 else None
        if by_code is not None and by_id is not None and by_code != by_id:
            raise forms.ValidationError(
                _("%(value)s is the code of store %(code_store)s and the id of store %(id_store)s; send the code.")
                % {"value": text, "code_store": by_code.code, "id_store": by_id.code},
                code="ambiguous",
            )
        store = by_code or by_id
        if store is None:
            raise forms.ValidationError(
                _("Unknown store %(value)s; stores are named by code, such as SH01.") % {"value": text[:40]},
                code="invalid_choice",
            )
        return store


class StoreFilter(django_filters.ModelChoiceFilter):
    """The one `store` filter of every list (members, orders, tiers, commissions, staff): by code."""

    field_class = StoreChoiceField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("queryset", Store.objects.all())
        kwargs.setdefault("to_field_name", "code")
        kwargs.setdefault("label", _("Store"))
        kwargs.setdefault("help_text", STORE_FILTER_HELP)
        super().__init__(*args, **kwargs)


class StoreFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    region = django_filters.ModelChoiceFilter(queryset=Region.objects.all(), label=_("Region"))
    city = django_filters.CharFilter(label=_("City"))
    is_active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        model = Store
        fields = ["q", "region", "city", "is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(code__icontains=value) | Q(city__icontains=value))


class StaffFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
    role = django_filters.ChoiceFilter(choices=Role.choices, label=_("Role"))
    store = StoreFilter()
    is_active = django_filters.BooleanFilter(label=_("Active"))

    class Meta:
        model = User
        fields = ["q", "role", "store", "is_active"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(username__icontains=value) | Q(display_name__icontains=value) | Q(email__icontains=value)
        )


class ApiKeyFilterSet(django_filters.FilterSet):
    active = django_filters.BooleanFilter(method="filter_active", label=_("Active"))
    store = StoreFilter()

    class Meta:
        model = ApiKey
        fields = ["active", "store"]

    def filter_active(self, queryset, name, value):
        from django.utils import timezone

        now = timezone.now()
        active = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        return queryset.filter(active) if value else queryset.exclude(active)
