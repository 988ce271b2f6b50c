"""Member searches kept server-side: the search box posts its text, the session keeps it under a
short random id, and URLs (history, access logs, shared links, audit details) carry only that id,
never a phone or a name. Pagination, sorting and exports carry the id like any other filter."""

from __future__ import annotations

import secrets

from django.http import QueryDict
from django.utils.translation import gettext as _

from scrm.errors import InvalidInput

PARAM = "search"
SESSION_KEY = "member_searches"
KEPT = 20  # searches a session keeps; the oldest goes first


def remember(request, text: str) -> str:
    """Keep `text` in the session; returns the id that stands for it in URLs."""
    kept = dict(request.session.get(SESSION_KEY, {}))
    for token, value in list(kept.items()):
        if value == text:
            del kept[token]  # the same search again keeps one id, moved to the newest place
    token = secrets.token_urlsafe(6)
    kept[token] = text
    while len(kept) > KEPT:
        kept.pop(next(iter(kept)))
    request.session[SESSION_KEY] = kept
    return token


def resolved(request, data: QueryDict | None) -> QueryDict | None:
    """`data` with its search id replaced by the text it stands for (`q`). An id this session does
    not hold is refused rather than dropped, so an expired link never lists everyone."""
    if data is None or PARAM not in data:
        return data
    data = data.copy()
    token = data.pop(PARAM)[-1]
    text = request.session.get(SESSION_KEY, {}).get(token) if token else None
    if text is None:
        raise InvalidInput(_("This search has expired; search again."), details={PARAM: [token]},
                           code="search_expired")
    data["q"] = text
    return data


def moved_out_of(request, data: QueryDict) -> QueryDict:
    """`data` (a posted search form) as a query string may carry it: the text kept server-side and
    named by its id, the CSRF token left out."""
    query = data.copy()
    query.pop("csrfmiddlewaretoken", None)
    query.pop(PARAM, None)
    query.pop("page", None)  # a new search starts at its first page
    text = query.pop("q", [""])[-1].strip()
    if text:
        query[PARAM] = remember(request, text)
    return query
