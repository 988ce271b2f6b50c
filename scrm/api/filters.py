"""The API's filter backend: a list narrowed by a filter the server does not know is refused.

A misspelt or unknown query parameter (`home_store=2` where the filter is `store`) must never be
ignored, or the caller gets every row while believing they asked for a few. List actions answer 400
`validation_error` naming each unknown parameter; the known ones are the FilterSet's filters, the
paginator's parameters, `format` and what a view declares in
`extra_query_params`."""

from __future__ import annotations

import datetime

from django import forms
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.widgets import SuffixedMultiWidget
from rest_framework import exceptions

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
    return {
        getattr(paginator, attr)
        for attr in (
            "cursor_query_param",
            "page_size_query_param",
            "page_query_param",
            "limit_query_param",
            "offset_query_param",
        )
        if getattr(paginator, attr, None)
    }


def refuse_unknown_params(query_params, known) -> None:
    """Raise InvalidInput naming each parameter of `query_params` that is not in `known`."""
    unknown = [name for name in query_params if name not in known]
    if unknown:
        raise InvalidInput(
            _("The filters are not valid."),
            details={
                name: [
                    _('Unknown filter "%(key)s"; known filters: %(known)s.')
                    % {"key": name, "known": ", ".join(sorted(known))}
                ]
                for name in unknown
            },
        )


# PostgreSQL keeps a UTC offset within ±15:59; Python parses up to ±23:59. Beyond that is no place's
# time and is refused, rather than crashing the query.
MAX_UTC_OFFSET = datetime.timedelta(hours=15, minutes=59)


def offset_problem(value) -> str | None:
    """Why an aware date-time's UTC offset cannot be taken, or None."""
    offset = value.utcoffset() if isinstance(value, datetime.datetime) else None
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        return _("The UTC offset must be between -15:59 and +15:59.")
    return None


def refuse_empty_values(query_params, filterset) -> None:
    """An empty value for a filter that is not free text (`?since=`, `?store=`) is refused rather
    than read as no filter: it is no date, number or choice, and ignoring it would widen the list."""
    empty = [
        name
        for name, filter_ in filterset.filters.items()
        if name in query_params
        and not isinstance(filter_.field, forms.CharField)
        and any(value == "" for value in query_params.getlist(name))
    ]
    if empty:
        raise InvalidInput(
            _("The filters are not valid."),
            details={name: [_("Give a value, or leave the filter out.")] for name in empty},
        )


# How a boolean is written in a query string: the schema says boolean, and a client library writes
# true or false. Anything else ("1", "yes", "null") is refused rather than read as no filter.
BOOLEAN_TEXT = frozenset({"true", "false"})


def refuse_unreadable_booleans(query_params, filterset) -> None:
    """A boolean filter given anything but true or false is refused: django-filter's select reads an
    unknown value as "either", which would widen the list the caller asked to narrow."""
    bad = [
        name
        for name, filter_ in filterset.filters.items()
        if name in query_params
        and isinstance(filter_.field, forms.NullBooleanField)
        and any(value not in BOOLEAN_TEXT for value in query_params.getlist(name))
    ]
    if bad:
        raise InvalidInput(
            _("The filters are not valid."),
            details={name: [_("Must be true or false.")] for name in bad},
        )


def refuse_out_of_range_offsets(cleaned_data: dict) -> None:
    """Raise InvalidInput naming each date-time filter whose UTC offset is out of range."""
    bad = {}
    for name, value in cleaned_data.items():
        values = [value.start, value.stop] if isinstance(value, slice) else [value]
        problems = [problem for item in values if (problem := offset_problem(item))]
        if problems:
            bad[name] = problems[:1]
    if bad:
        raise InvalidInput(_("The filters are not valid."), details=bad)


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
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        refuse_empty_values(request.query_params, filterset)
        refuse_unreadable_booleans(request.query_params, filterset)
        if not filterset.is_valid():
            # The form's own messages, already worded: django-filter's translate_validation formats
            # each message again with %, which crashes on a message quoting a value holding a "%".
            raise exceptions.ValidationError({name: list(messages) for name, messages in filterset.errors.items()})
        refuse_out_of_range_offsets(filterset.form.cleaned_data)
        return filterset.qs
