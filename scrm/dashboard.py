"""Base views of the dashboard and the staff phone views: login required, roles, scoped lists.

A list view names its model's queryset and FilterSet; the scoping comes from here and cannot be
overridden, and the same view serves the full page and its htmx partial. Pages with no model list
of their own build on ScopedTemplateView; function views are marked with `scoped_view`. Every route
of the dashboard is one of these (or allowlisted with a reason): tests/scrm/test_route_scoping.py.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.views.generic import DetailView, ListView, TemplateView

from scrm.models import Role
from scrm.scoping import get_visible_or_404, scope


def _unset(value) -> bool:
    """A filter left empty: no value, an empty string or list, or an unused multiple choice (an empty
    queryset, which compares unequal to [])."""
    return value in (None, "", []) or (isinstance(value, QuerySet) and value.query.is_empty())


class RoleRequiredMixin(LoginRequiredMixin):
    allowed_roles: tuple[str, ...] = tuple(Role.values)

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.role not in self.allowed_roles:
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


_SCOPED_BASES: list[type] = []  # filled in below, once the base views exist


class _ScopedMixin:
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Compare what the class actually resolves, so a mixin placed first cannot slip one in.
        for base in _SCOPED_BASES:
            if issubclass(cls, base) and cls.get_queryset is not base.get_queryset:
                raise TypeError(
                    f"{cls.__qualname__} overrides get_queryset; set `queryset` so scoping stays in place"
                )

    def scoped_queryset(self):
        return scope(self.queryset.all(), self.request.user)

    def visible(self, queryset):
        """Other rows the page shows (pickers, related lists), cut to what the user may see."""
        return scope(queryset, self.request.user)


class ScopedListView(RoleRequiredMixin, _ScopedMixin, ListView):
    """A filtered, paginated list. `partial_template_name` is rendered for htmx requests.

    A list under a parent (a member's points at /members/<pk>/points/) names the parent's
    `parent_queryset`, the URL argument `parent_kwarg` and the listed rows' `parent_field`, as the
    API's NestedScopedMixin does: the parent is found among the rows the user may see (404 across
    stores) and kept as `parent_attr` on the view."""

    filterset_class = None
    partial_template_name: str | None = None
    paginate_by = 50
    parent_queryset = None
    parent_kwarg = "pk"
    parent_field = ""
    parent_attr = "parent"

    def get_filterset_kwargs(self) -> dict:
        return {"data": self.request.GET or None, "request": self.request}

    known_count: int | None = None  # set by narrow() when a faster exact count is at hand

    def narrow(self, queryset):
        """Hook for request-dependent restrictions (a segment); the result is scoped again."""
        return queryset

    def get_queryset(self):
        queryset = self.scoped_queryset()
        if self.parent_queryset is not None:
            parent = get_visible_or_404(self.parent_queryset, self.request.user, pk=self.kwargs[self.parent_kwarg])
            setattr(self, self.parent_attr, parent)
            queryset = queryset.filter(**{self.parent_field: parent})
        queryset = scope(self.narrow(queryset), self.request.user)
        self.filterset = None
        if self.filterset_class is not None:
            self.filterset = self.filterset_class(queryset=queryset, **self.get_filterset_kwargs())
            self.limit_filter_choices(self.filterset)
            if self.filterset.is_bound and self.filterset.is_valid():
                if not all(_unset(v) for v in self.filterset.form.cleaned_data.values()):
                    self.known_count = None  # further filtered: the narrowed count no longer holds
                queryset = self.filterset.qs
            elif self.filterset.is_bound:
                queryset = queryset.none()
        return queryset

    def get_paginator(self, queryset, per_page, orphans=0, allow_empty_first_page=True, **kwargs):
        paginator = super().get_paginator(queryset, per_page, orphans, allow_empty_first_page, **kwargs)
        if self.known_count is not None:
            paginator.count = self.known_count  # a cached_property: skips a COUNT(*) over millions
        return paginator

    def limit_filter_choices(self, filterset) -> None:
        """Store and staff pickers only offer what the user may see."""
        for field in filterset.form.fields.values():
            qs = getattr(field, "queryset", None)
            if qs is not None:
                field.queryset = scope(qs, self.request.user)

    def get_template_names(self):
        if self.partial_template_name and getattr(self.request, "htmx", False) and not self.request.htmx.boosted:
            return [self.partial_template_name]
        return super().get_template_names()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["filterset"] = self.filterset
        query = self.request.GET.copy()
        query.pop("page", None)
        context["querystring"] = query.urlencode()
        return context


class ScopedDetailView(RoleRequiredMixin, _ScopedMixin, DetailView):
    def get_queryset(self):
        return self.scoped_queryset()


_SCOPED_BASES.extend([ScopedListView, ScopedDetailView])


class ScopedTemplateView(RoleRequiredMixin, TemplateView):
    """A page with no model list of its own (the tier ladder, a distribution): what it shows comes
    from `self.visible(queryset)`, `self.get_visible_or_404(...)` or queries handed the user."""

    def visible(self, queryset):
        return scope(queryset, self.request.user)

    def get_visible_or_404(self, queryset, **lookup):
        return get_visible_or_404(queryset, self.request.user, **lookup)


def scoped_view(view=None, /, **objects):
    """Marks a dashboard function view whose rows all come through scrm.scoping (get_visible_or_404,
    `.visible_to(user)`, or queries and services handed the user), and requires a signed-in user.

    `objects` names the model each URL argument looks up, e.g. `@scoped_view(pk=Member)`: the route
    sweep asks for another store's object through it and expects a 404. Put it outermost or under
    decorators that keep the function's attributes (functools.wraps), as Django's do."""

    def decorate(func):
        wrapped = login_required(func)
        wrapped.scoped_objects = dict(objects)
        return wrapped

    return decorate(view) if view is not None else decorate
