"""The API's content negotiation: DRF's, except that `?format=` with no value is a format no renderer
knows (404, as `?format=pdf` is), not the default one; the schema lists the formats a route offers."""

from __future__ import annotations

from django.http import Http404
from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        name = self.settings.URL_FORMAT_OVERRIDE
        if not format_suffix and name and request.query_params.get(name) == "":
            raise Http404
        return super().select_renderer(request, renderers, format_suffix)
