"""The one place that decides which rows an actor may reach.

An actor is a staff user (session) or an API key principal. Operators and brand-wide API keys
reach every store; store managers, store staff and store-bound API keys reach their own store.
Every model that holds store data names the path to its store in `store_scope_field`
("id" for Store itself, "home_store" for members...); `None` marks shared reference data.
A model that declares nothing cannot be scoped, which is an error rather than a silent leak.
A model with `store_scope_shared = True` also shows its rows without a store (brand-wide ones, such
as an operator's segment) to store actors; whether they may change them is the services' call.

Store-bound models use `ScopedManager` (or build their own manager from `ScopedQuerySet`), so a
view or query reads `Order.objects.visible_to(actor)` and `Member.live.visible_to(actor)`;
`get_visible_or_404` finds one object that way. Default managers stay unscoped on purpose: services,
migrations and workers need every row, and the name `visible_to` is what a reviewer looks for.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db.models import Manager, Model, Q, QuerySet
from django.http import Http404

_UNSET = object()


@dataclass(frozen=True)
class Access:
    all_stores: bool
    store_id: int | None

    def allows_store(self, store_id: int | None) -> bool:
        return self.all_stores or (store_id is not None and store_id == self.store_id)

    @property
    def reaches_any(self) -> bool:
        """False for NO_ACCESS: signed out, deactivated, or a store role without a store."""
        return self.all_stores or self.store_id is not None

    def narrowed_to(self, store_id: int | None) -> Access:
        """This access cut further to one store (a store's own segment; None cuts nothing): that
        store alone if it is within reach, NO_ACCESS otherwise."""
        if store_id is None:
            return self
        return Access(all_stores=False, store_id=store_id) if self.allows_store(store_id) else NO_ACCESS


NO_ACCESS = Access(all_stores=False, store_id=None)


def _signed_in(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", True)


def access_for(actor) -> Access:
    """What part of the brand `actor` (a User, an ApiPrincipal or None) may see."""
    if not _signed_in(actor):
        return NO_ACCESS
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        return Access(all_stores=api_key.store_id is None, store_id=api_key.store_id)
    if getattr(actor, "is_operator", False):
        return Access(all_stores=True, store_id=None)
    return Access(all_stores=False, store_id=getattr(actor, "store_id", None))


def store_path(model: type[Model]) -> str | None:
    path = getattr(model, "store_scope_field", _UNSET)
    if path is _UNSET:
        raise ImproperlyConfigured(
            f"{model.__module__}.{model.__name__} has no store_scope_field: say which field leads to its "
            "store, or None for data shared by every store"
        )
    return path


def scope(queryset: QuerySet, actor) -> QuerySet:
    """Restrict `queryset` to the rows `actor` may see. Every list, detail and API goes through here."""
    path = store_path(queryset.model)
    access = access_for(actor)
    if path is None:
        return queryset if _signed_in(actor) else queryset.none()
    if access.all_stores:
        return queryset
    if access.store_id is None:
        return queryset.none()
    if getattr(queryset.model, "store_scope_shared", False):
        return queryset.filter(Q(**{path: access.store_id}) | Q(**{f"{path}__isnull": True}))
    return queryset.filter(**{path: access.store_id})


def get_visible_or_404(queryset: QuerySet | Manager | type[Model], actor, **lookup) -> Model:
    """The one object matching `lookup` among the rows `actor` may see; Http404 otherwise, so another
    store's object and a missing one answer alike (as does a malformed id). `queryset` may be a
    model (its default manager), a manager (`Member.live`) or a queryset carrying select_related."""
    if isinstance(queryset, type):
        queryset = queryset._default_manager.all()
    elif isinstance(queryset, Manager):
        queryset = queryset.all()
    try:
        return scope(queryset, actor).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404(f"No {queryset.model._meta.object_name} matches the given query.") from None


class ScopedQuerySet(QuerySet):
    """A queryset that can cut itself to what an actor may see (NetBox's RestrictedQuerySet.restrict)."""

    def visible_to(self, actor) -> QuerySet:
        """The rows of this queryset `actor` may see: `scope(self, actor)`."""
        return scope(self, actor)


class ScopedManager(Manager.from_queryset(ScopedQuerySet)):
    """The manager of store-bound models: `Model.objects.visible_to(actor)`. A model with its own
    manager builds it with `ScopedQuerySet` (`class LiveManager(ScopedManager)`, or
    `MyManager.from_queryset(ScopedQuerySet)`)."""
