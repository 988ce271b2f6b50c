"""Base classes every API view builds on: scoped querysets and declared scopes.

Subclasses set `queryset` and `scope_resource`; they never override `get_queryset`, so no view
can forget the store scoping (a subclass that tries fails at import time).
"""

from __future__ import annotations

from rest_framework import mixins, viewsets

from scrm.scoping import get_visible_or_404, scope


class ScopedQuerysetMixin:
    scope_resource: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Compare what the class resolves, not its own __dict__: a mixin listed before the base
        # class would otherwise slip its own get_queryset in front of the scoped one.
        if cls.get_queryset is not ScopedQuerysetMixin.get_queryset:
            owner = next(klass for klass in cls.__mro__ if "get_queryset" in klass.__dict__)
            raise TypeError(
                f"{cls.__qualname__} gets get_queryset from {owner.__qualname__}; set `queryset` instead so "
                "store scoping cannot be bypassed (use filter_queryset or a FilterSet for request-dependent filters)"
            )

    def get_queryset(self):
        return scope(super().get_queryset(), self.request.user)


class NestedScopedMixin:
    """Routes under a parent, such as /members/{member_id}/tags/: the parent comes from the scoped
    `parent_queryset` (404 across stores) before anything else runs, is kept as `parent_attr` on the
    view, and the listed rows are the parent's (`parent_field`)."""

    parent_queryset = None
    parent_kwarg = ""
    parent_field = ""
    parent_attr = "parent"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        parent = get_visible_or_404(self.parent_queryset.all(), request.user, pk=kwargs[self.parent_kwarg])
        setattr(self, self.parent_attr, parent)

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset).filter(**{self.parent_field: getattr(self, self.parent_attr)})


class ScopedReadOnlyViewSet(ScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class ScopedModelViewSet(ScopedQuerysetMixin, viewsets.ModelViewSet):
    pass


class ScopedCreateListRetrieveViewSet(
    ScopedQuerysetMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    pass
