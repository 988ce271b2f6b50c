"""Screens: the connection page (operators): which corp, which settings are present, health, the
callback URL for the WeCom console, and a "test connection" button."""

from __future__ import annotations

from django.urls import path

from scrm.dashboard import ScopedTemplateView
from scrm.models import Role
from wecom.services import connection


class ConnectionView(ScopedTemplateView):
    """GET shows the connection's health; POST tests it (a fresh token and the staff list) and shows
    the result on the same page."""

    template_name = "wecom/connection_home.html"
    allowed_roles = (Role.OPERATOR,)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        state = connection.health(actor=self.request.user)
        context.update(
            state=state,
            settings_present=list(state["settings"].items()),
            callback_url=self.request.build_absolute_uri(state["callback_path"]),
        )
        return context

    def post(self, request, *args, **kwargs):
        result = connection.test_connection(actor=request.user)
        return self.render_to_response(self.get_context_data(test_result=result))


urlpatterns = [
    path("wecom/", ConnectionView.as_view(), name="wecom-home"),
]
