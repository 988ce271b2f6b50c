"""Base classes every API view builds on: scoped querysets and declared scopes.

Subclasses set `queryset` and `scope_resource`; they never override `get_queryset`, so no view
can forget the store scoping (a subclass that tries fails at import time). Routes under a parent
add NestedScopedMixin; routes with no model of their own (figures, exports) build on ScopedViewSet.
tests/scrm/test_route_scoping.py walks every route and fails on one that is on none of these.
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


# Routes with no model queryset of their own (figures, exports): what they answer comes from
# `self.visible(queryset)`, `self.get_visible_or_404(...)` or queries and services handed `self.actor`,
# which scope by it. They must name their `scope_resource` (so HasScope applies) and cannot declare a
# `queryset` or `get_queryset`: a model route belongs on a Scoped*ViewSet. (No docstring: the OpenAPI
# schema would show it as the description of every subclass that has none of its own.)
class ScopedViewSet(viewsets.ViewSet):
    scope_resource: str | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.scope_resource:
            raise TypeError(f"{cls.__qualname__} must name its scope_resource")
        if hasattr(cls, "get_queryset") or getattr(cls, "queryset", None) is not None:
            raise TypeError(
                f"{cls.__qualname__} declares a queryset; list models on a Scoped*ViewSet, or read them here "
                "through self.visible(queryset)"
            )

    @property
    def actor(self):
        """Whoever calls (a staff user or an API key principal): what queries and services scope by."""
        return self.request.user

    def visible(self, queryset):
        return scope(queryset, self.request.user)

    def get_visible_or_404(self, queryset, **lookup):
        return get_visible_or_404(queryset, self.request.user, **lookup)
