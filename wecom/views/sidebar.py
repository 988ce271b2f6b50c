"""Screens: the WeCom chat sidebar. A phone-sized page WeCom opens beside a chat: it asks the JS-SDK
for the current customer's external_userid (after agentConfig, signed by /wecom/sidebar/config/)
and shows that member's card, the same card as the staff phone view, with its tag and note actions.
Outside WeCom (the demo, a desktop browser) the customer is named with ?external_userid=.

A customer who is not synced yet, is no member, or is another store's member gets a friendly page
(404), never another store's data."""

from __future__ import annotations

from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from members import queries as member_queries
from scrm.dashboard import ScopedTemplateView, scoped_view
from wecom.services import sidebar as service


class SidebarView(ScopedTemplateView):
    """The card of ?external_userid= (any signed-in staff role, within their stores); without it, the
    page that asks WeCom's JS-SDK who the customer is."""

    template_name = "wecom/sidebar_card.html"

    def get(self, request, *args, **kwargs):
        external_userid = request.GET.get("external_userid", "").strip()
        if not external_userid:
            return TemplateResponse(request, "wecom/sidebar_identify.html", {"demo": service.demo_mode()})
        member = service.member_for(request.user, external_userid)
        if member is None:
            return TemplateResponse(request, "wecom/sidebar_unknown.html", {"external_userid": external_userid},
                                    status=404)
        context = self.get_context_data(member=member, external_userid=external_userid, origin="mobile",
                                        sidebar_blocks=service.blocks_for(member, request.user))
        context.update(member_queries.member_360(member, request.user))
        response = self.render_to_response(context)
        response["Cache-Control"] = "no-store"
        return response


@scoped_view
@never_cache
def sidebar_config(request):
    """The JS-SDK's agentConfig for the sidebar page at ?url= (WeCom signs the page's own URL; a URL
    of another site is not signed)."""
    url = request.GET.get("url", "")[:1000]
    if not url or not url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        url = request.build_absolute_uri(reverse("wecom-sidebar"))
    return JsonResponse(service.agent_config(url=url))


urlpatterns = [
    path("wecom/sidebar/", SidebarView.as_view(), name="wecom-sidebar"),
    path("wecom/sidebar/config/", sidebar_config, name="wecom-sidebar-config"),
]
