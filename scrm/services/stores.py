"""Opening stores and changing them: a brand-wide act (a store's code names it in every
integration, its region groups it in reports), so only operators and brand-wide keys do it."""

from __future__ import annotations

from django.db import transaction

from scrm.models import Store
from scrm.permissions import require_write

STORE_FIELDS = ("code", "name", "region", "city", "address", "opened_on", "is_active")


@transaction.atomic
def create_store(*, actor, values: dict) -> Store:
    require_write(actor, "stores")
    return Store.objects.create(**{name: values[name] for name in STORE_FIELDS if name in values})


@transaction.atomic
def update_store(*, actor, store: Store, values: dict) -> Store:
    """Change `store`'s fields given in `values`. Closing a store (is_active false) also stops the
    API keys bound to it (refused at authentication)."""
    require_write(actor, "stores")
    store = Store.objects.select_for_update().get(pk=store.pk)
    unknown = set(values) - set(STORE_FIELDS)
    if unknown:
        raise TypeError(f"update_store() got unknown fields {sorted(unknown)}")
    for name, value in values.items():
        setattr(store, name, value)
    store.save()
    return store
