"""Renderers for endpoints that answer with a file: clients may ask for text/csv or xlsx, and the
view streams the file itself (a StreamingHttpResponse); errors still render as JSON."""

from __future__ import annotations

from rest_framework import renderers


class PassthroughRenderer(renderers.BaseRenderer):
    """Lets clients ask for a file type; the file itself is a streaming response."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return renderers.JSONRenderer().render(data)


class CsvRenderer(PassthroughRenderer):
    media_type = "text/csv"
    format = "csv"


class XlsxRenderer(PassthroughRenderer):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"
