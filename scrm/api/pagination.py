"""Cursor pagination: stable and fast however deep a client pages through millions of rows."""

from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500
