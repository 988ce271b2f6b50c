"""The dashboard's sidebar: one list of sections and links, each with the roles that see it.

A link is lit on its own page and on the pages below it (/orders/ stays lit on /orders/42/); where
two links match, the longer one wins (/members/import/ lights "Import / export", not "Members").
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

ALL = ("operator", "store_manager", "store_staff")
MANAGERS = ("operator", "store_manager")
OPERATORS = ("operator",)


@dataclass(frozen=True)
class Link:
    label: str
    url_name: str
    roles: tuple[str, ...] = ALL
    exact: bool = False  # lit only on its own path (the overview at "/")


SECTIONS = [
    (None, [Link(_("Overview"), "home", exact=True), Link(_("Cockpit"), "insights-cockpit", MANAGERS)]),
    (
        _("Members"),
        [
            Link(_("Members"), "member-list"),
            Link(_("Segments"), "segment-list", MANAGERS),
            Link(_("Import / export"), "member-import", MANAGERS),
        ],
    ),
    (
        _("Sales"),
        [
            Link(_("Orders"), "order-list"),
            Link(_("Figures"), "insights-figures", MANAGERS),
        ],
    ),
    (
        _("Loyalty"),
        [
            Link(_("Tiers"), "tier-ladder"),
            Link(_("Rewards"), "reward-list"),
            Link(_("Redemptions"), "redemption-list", MANAGERS),
            Link(_("Referral commissions"), "commission-list", MANAGERS),
        ],
    ),
    (
        _("WeCom"),
        [
            Link(_("Connection"), "wecom-home", OPERATORS),
            Link(_("Contact syncs"), "wecom-sync-list", OPERATORS),
            Link(_("Customer groups"), "wecom-group-list"),
            Link(_("Handovers"), "wecom-handover-list", MANAGERS),
            Link(_("Channel codes"), "wecom-channel-list", MANAGERS),
            Link(_("Corp tags"), "wecom-tags", OPERATORS),
            Link(_("Callback events"), "wecom-event-list", OPERATORS),
        ],
    ),
    (
        _("Communities"),
        [
            Link(_("Communities"), "community-list"),
            Link(_("Events"), "community-event-list"),
            Link(_("Appointments"), "appointments-calendar"),
            Link(_("Services by appointment"), "appointments-services"),
        ],
    ),
    (
        _("Staff tasks"),
        [
            Link(_("Tasks"), "journeys-board", MANAGERS),
            Link(_("Journeys"), "journeys-journey-list", MANAGERS),
            Link(_("Content calendar"), "calendar-month", MANAGERS),
        ],
    ),
    (
        _("KOC programme"),
        [
            Link(_("KOC overview"), "koc-overview", MANAGERS),
            Link(_("Creators"), "koc-creator-list"),
            Link(_("Applications"), "koc-application-list"),
            Link(_("Candidates"), "koc-candidate-list", MANAGERS),
            Link(_("Creators' posts"), "koc-post-list"),
            Link(_("Topics"), "koc-topic-list"),
            Link(_("Levels and benefits"), "koc-level-list"),
            Link(_("Launches"), "koc-launch-list", MANAGERS),
            Link(_("KOC settings"), "koc-settings", OPERATORS),
        ],
    ),
    (
        _("Campaigns"),
        [
            Link(_("Campaigns"), "campaign-list"),
            Link(_("Send policy"), "campaign-policy", OPERATORS),
            Link(_("Seasons"), "campaign-seasons", MANAGERS),
        ],
    ),
    (
        _("Organisation"),
        [
            Link(_("Stores"), "store-list"),
            Link(_("Staff"), "staff-list"),
            Link(_("API keys"), "api-key-list", OPERATORS),
            Link(_("Webhooks"), "webhook-list", OPERATORS),
        ],
    ),
    (
        _("Settings"),
        [
            Link(_("Points policy"), "points-policy", OPERATORS),
            Link(_("Commission rules"), "commission-rule-list", OPERATORS),
            Link(_("Guide attribution"), "order-attribution", OPERATORS),
            Link(_("Account security"), "account-security"),
        ],
    ),
]


def _matches(link: Link, url: str, path: str) -> bool:
    return path == url if link.exact else (path == url or path.startswith(url.rstrip("/") + "/"))


def sidebar(request) -> list[dict]:
    role = getattr(request.user, "role", None)
    sections = []
    for title, links in SECTIONS:
        items = [
            {"label": link.label, "url": reverse(link.url_name), "link": link} for link in links if role in link.roles
        ]
        if items:
            sections.append({"title": title, "links": items})
    lit = [
        item for section in sections for item in section["links"] if _matches(item["link"], item["url"], request.path)
    ]
    best = max(lit, key=lambda item: len(item["url"]), default=None)
    for section in sections:
        for item in section["links"]:
            item["active"] = item is best
    return sections


def back_link(request, sections: list[dict]) -> dict | None:
    """The way back from a page below a list (an order, a member, a reward's form): the list its lit
    link names, or, when the user came from that list on this site, the very address they came from,
    so its filters and page survive. None on the list itself and on pages no link lights."""
    best = next((item for section in sections for item in section["links"] if item["active"]), None)
    if best is None or best["link"].exact or request.path == best["url"]:
        return None
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        came_from = urlsplit(referer)
        if came_from.path == best["url"]:
            return {"url": came_from.path + (f"?{came_from.query}" if came_from.query else ""), "label": best["label"]}
    return {"url": best["url"], "label": best["label"]}
