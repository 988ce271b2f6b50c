"""The dashboard's sidebar: one list of sections and links, each with the roles that see it.

A link is lit on its own page and on the pages below it (/orders/ stays lit on /orders/42/); where
two links match, the longer one wins (/members/import/ lights "Import / export", not "Members").
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
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
    (None, [Link(_("Overview"), "home", exact=True)]),
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
        _("Organisation"),
        [
            Link(_("Stores"), "store-list"),
            Link(_("Staff"), "staff-list"),
            Link(_("API keys"), "api-key-list", OPERATORS),
        ],
    ),
    (
        _("Settings"),
        [
            Link(_("Points policy"), "points-policy", OPERATORS),
            Link(_("Commission rules"), "commission-rule-list", OPERATORS),
            Link(_("Guide attribution"), "order-attribution", OPERATORS),
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
