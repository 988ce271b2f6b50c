"""Request-wide rules for every /api/ route, before any view runs.

- A NUL character in the path or in a query parameter (its name or value) is refused with a 400 in
  the one error shape naming where: PostgreSQL cannot compare text holding one, so it would otherwise
  reach the database as a crash.
- Date-times are written in one fixed offset: the brand time zone's standard offset (+08:00 for
  Asia/Shanghai). A named zone would render a date before 1901 with its local mean time (+08:05:43),
  which no client expects and OpenAPI's date-time does not allow.
"""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from scrm.api.errors import API_PREFIX, error_body


def api_timezone() -> datetime.tzinfo:
    """The fixed offset the API writes date-times in: the brand zone's offset in January this year
    (its standard time), so a value's offset never depends on its year."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    offset = datetime.datetime(timezone.now().year, 1, 15, 12, tzinfo=zone).utcoffset()
    return datetime.timezone(offset) if offset else datetime.UTC


def _nul_places(request) -> dict:
    places: dict = {}
    if "\x00" in request.path:
        places["path"] = [_("The address contains a NUL character (%00).")]
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            places[name.replace("\x00", "\\u0000")] = [
                _("The query parameter contains a NUL character (%00), which cannot be stored or searched.")
            ]
    return places


class ApiInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.zone = api_timezone()

    def __call__(self, request):
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        if places := _nul_places(request):
            return JsonResponse(
                error_body(
                    400, "validation_error", _("The request address has characters no resource can hold."), places
                ),
                status=400,
            )
        with timezone.override(self.zone):
            return self.get_response(request)
