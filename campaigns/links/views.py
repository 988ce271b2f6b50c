"""The public end of a tracked link: `/l/<code>/<token>` records the click and redirects (302) to the
link's target. No login: recipients follow it from their phones. An unknown code is a 404 page; a
token that does not verify still redirects, recording a click with no member; HEAD requests (link
checkers, preview bots) are answered without being counted."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from campaigns.links import services


@require_safe
def follow(request, code, token):
    target = services.follow(
        code=code, token=token, user_agent=request.headers.get("User-Agent", ""), now=timezone.now(),
        record=request.method == "GET",
    )
    if target is None:
        return render(request, "links/unknown.html", status=404)
    return HttpResponseRedirect(target)
