"""The dashboard's one handler for service errors (the API has its own in scrm.api.errors).

A view calls a service and lets a ServiceError rise. A form POST gets the error's message on the page
it came from (a redirect to the referring page of this site); anything else gets a page with the
error's status and message. Views that show an error beside a form field still catch it themselves."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from scrm.api.errors import API_PREFIX
from scrm.errors import ServiceError


class ServiceErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ServiceError) or request.path.startswith(API_PREFIX):
            return None
        back = request.headers.get("Referer", "")
        safe_back = back and url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        if request.method == "POST" and safe_back:
            messages.error(request, exception.message)
            if getattr(request, "htmx", False):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = back
                return response
            return HttpResponseRedirect(back)
        return render(request, "errors/service_error.html", {"error": exception}, status=exception.status)
