"""The API's filter backend: a list narrowed by a filter the server does not know is refused.

A misspelt or unknown query parameter (`home_store=2` where the filter is `store`) must never be
ignored, or the caller gets every row while believing they asked for a few. List actions answer 400
`validation_error` naming each unknown parameter; the known ones are the FilterSet's filters, the
paginator's parameters, `format` and what a view declares in
`extra_query_params`."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.widgets import SuffixedMultiWidget

from scrm.errors import InvalidInput

# The one parameter every list understands (DRF reads it to choose the renderer). Anything else a
# list reads is a filter of its FilterSet or declared by the view, so `?q=` on a list without search
# is refused rather than ignored.
COMMON_QUERY_PARAMS = frozenset({"format"})


def filter_param_names(filterset) -> set[str]:
    """The query parameter names a FilterSet reads (a range filter reads `<name>_min`, `<name>_max`)."""
    names: set[str] = set()
    for name, filter_ in filterset.filters.items():
        widget = filter_.field.widget
        if isinstance(widget, SuffixedMultiWidget):
            names.update(f"{name}_{suffix}" if suffix else name for suffix in widget.suffixes)
        else:
            names.add(name)
    return names


def paginator_param_names(view) -> set[str]:
    paginator = getattr(view, "paginator", None)
    if paginator is None:
        return set()
    return {getattr(paginator, attr) for attr in
            ("cursor_query_param", "page_size_query_param", "page_query_param", "limit_query_param",
             "offset_query_param") if getattr(paginator, attr, None)}


def refuse_unknown_params(query_params, known) -> None:
    """Raise InvalidInput naming each parameter of `query_params` that is not in `known`."""
    unknown = [name for name in query_params if name not in known]
    if unknown:
        raise InvalidInput(
            _("The filters are not valid."),
            details={name: [_("Unknown filter \"%(key)s\"; known filters: %(known)s.")
                            % {"key": name, "known": ", ".join(sorted(known))}] for name in unknown},
        )


class StrictFilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend that refuses, on list actions, the query parameters nobody reads."""

    def known_params(self, request, queryset, view) -> set[str]:
        known = set(COMMON_QUERY_PARAMS) | paginator_param_names(view)
        known |= set(getattr(view, "extra_query_params", ()))
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            known |= filter_param_names(filterset_class(queryset=queryset, request=request))
        return known

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", None) == "list":
            refuse_unknown_params(request.query_params, self.known_params(request, queryset, view))
        return super().filter_queryset(request, queryset, view)
