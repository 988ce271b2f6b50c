"""What OPTIONS answers on every API route: DRF's description of the view and, where the view has a
serializer, the fields a POST or PUT takes.

DRF's SimpleMetadata looks the object up (`get_object`) before describing a PUT, which crashes on a
route that takes a PUT without an id in its path (`PUT /orders/attribution-policy/`); here a PUT is
described only when the route names an object, and a view with no serializer of its own lists no
fields instead of failing."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import clone_request


def _has_serializer(view) -> bool:
    """Whether the view names a serializer (a ViewSet of custom actions may not: DRF asserts)."""
    from rest_framework.generics import GenericAPIView  # DRF's views import this module while loading

    return getattr(view, "serializer_class", None) is not None or (
        type(view).get_serializer_class is not GenericAPIView.get_serializer_class
    )


class Metadata(SimpleMetadata):
    def determine_actions(self, request, view):
        actions = {}
        for method in {"PUT", "POST"} & set(view.allowed_methods):
            view.request = clone_request(request, method)
            try:
                view.check_permissions(view.request)
                if method == "PUT" and hasattr(view, "get_object"):
                    lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk")
                    if lookup in view.kwargs:
                        view.get_object()
                if not hasattr(view, "get_serializer") or not _has_serializer(view):
                    continue
                serializer = view.get_serializer()
            except (exceptions.APIException, PermissionDenied, Http404):
                continue
            finally:
                view.request = request
            actions[method] = self.get_serializer_info(serializer)
        return actions
