"""Writing links and clicks: a campaign's links when it starts sending, each recipient's copy of the
text with tracked links, and a click recorded in one statement on the way to the redirect."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import connection

from campaigns.links import text as link_text
from campaigns.links import tokens
from campaigns.links.models import USER_AGENT_MAX, ShortLink
from campaigns.links.sql import CLICK, LINK, TEST_LINK


def new_code() -> str:
    return "".join(secrets.choice(tokens.ALPHABET) for _ in range(link_text.CODE_LENGTH))


def ensure_links(*, campaign) -> dict[str, str]:
    """Every link of the campaign's text as a ShortLink ({url: code}); a rerun adds nothing. Called
    when the campaign starts sending (its text is final then; a draft leaves no links behind)."""
    urls = list(dict.fromkeys([*link_text.urls(campaign.content), *attachment_urls(campaign)]))
    if not urls:
        return {}
    for _attempt in range(3):  # a random code that is taken (one in 10^12) just tries again
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {LINK} (code, campaign_id, target_url, created_at) "
                "SELECT k.code, %s, k.url, now() FROM unnest(%s::text[], %s::text[]) AS k(url, code) "
                "ON CONFLICT DO NOTHING",
                [campaign.pk, urls, [new_code() for _ in urls]],
            )
        known = links_of(campaign.pk)
        if all(url in known for url in urls):
            return known
    raise RuntimeError(f"campaign {campaign.pk}: could not give every link a code")


def attachment_urls(campaign) -> list[str]:
    """The targets of the campaign's link attachments (campaigns.attachments), tracked as its text's."""
    from campaigns import attachments

    return attachments.link_urls(getattr(campaign, "attachments", None) or [])


def links_of(campaign_id: int) -> dict[str, str]:
    return dict(ShortLink.objects.filter(campaign_id=campaign_id).values_list("target_url", "code"))


class Tracker:
    """Per-recipient copies of one campaign's text: each link that has a code becomes that
    recipient's tracked link (a link without one, of a campaign sent before it had links, stays)."""

    def __init__(self, campaign) -> None:
        self.parts = link_text.parts(campaign.content)
        has_links = any(is_link for is_link, _ in self.parts) or attachment_urls(campaign)
        self.codes = links_of(campaign.pk) if has_links else {}

    def url_for(self, url: str, member_id: int) -> str:
        """The member's tracked link to `url` (`url` itself when it has no code)."""
        code = self.codes.get(url)
        return link_text.tracked_url(code, tokens.make(code, member_id)) if code else url

    def url_for_staff(self, url: str, staff_id: int | None) -> str:
        """The tracked link to `url` in a staff member's WeCom task (tokens.make_for_staff)."""
        code = self.codes.get(url)
        if not code or not staff_id:
            return url
        return link_text.tracked_url(code, tokens.make_for_staff(code, staff_id))

    def text_for_staff(self, staff_id: int | None) -> str:
        """The text with each link tracked for a staff member's WeCom task."""
        return "".join(self.url_for_staff(piece, staff_id) if is_link else piece for is_link, piece in self.parts)

    def text_for(self, member_id: int) -> str:
        if not self.codes:
            return "".join(piece for _, piece in self.parts)
        return "".join(
            link_text.tracked_url(self.codes[piece], tokens.make(self.codes[piece], member_id))
            if is_link and piece in self.codes else piece
            for is_link, piece in self.parts
        )


def follow(*, code: str, token: str, user_agent: str, now: dt.datetime, record: bool = True) -> str | None:
    """The link's target (None for an unknown code), recording the click on the way when `record`:
    the member the token names (none when it does not verify), at most one a member a minute. A test
    send's token (tokens.TEST_MARK) is a test link's (follow_test): never a campaign's click."""
    if tokens.is_test(token):
        return follow_test(code=code, token=token, now=now, record=record)
    member_id = tokens.member_of(code, token)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH link AS (SELECT id, campaign_id, target_url FROM {LINK} WHERE code = %(code)s),
            click AS (
                INSERT INTO {CLICK} (link_id, campaign_id, member_id, clicked_at, minute, user_agent)
                SELECT id, campaign_id, %(member)s, %(now)s, date_trunc('minute', %(now)s), %(ua)s
                FROM link WHERE %(record)s
                ON CONFLICT (link_id, member_id, minute) DO NOTHING
            )
            SELECT target_url FROM link""",
            {"code": code, "member": member_id, "now": now, "ua": (user_agent or "")[:USER_AGENT_MAX],
             "record": record},
        )
        row = cursor.fetchone()
    return row[0] if row else None


def follow_test(*, code: str, token: str, now: dt.datetime, record: bool = True) -> str | None:
    """A test link's target (None for an unknown code); the opening is counted on the test send's
    link when the token is that test send's, and nowhere else."""
    test_send_id = tokens.test_send_of(code, token)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH opened AS (
                UPDATE {TEST_LINK} SET opened = opened + 1, last_opened_at = %(now)s
                WHERE code = %(code)s AND test_send_id = %(test_send)s AND %(record)s RETURNING id
            )
            SELECT target_url FROM {TEST_LINK} WHERE code = %(code)s""",
            {"code": code, "test_send": test_send_id, "now": now, "record": record and test_send_id is not None},
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_links(*, test_send_ids: list[int], urls: list[str]) -> dict[int, dict[str, str]]:
    """Every url of a test send's text as a StaffTestLink of each test send ({test send: {url: code}}),
    in one statement per attempt; a rerun adds nothing."""
    if not urls or not test_send_ids:
        return {}
    pairs = [(t, u) for t in test_send_ids for u in urls]
    for _attempt in range(3):  # a random code that is taken just tries again
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TEST_LINK} (code, test_send_id, target_url, opened, created_at) "
                "SELECT k.code, k.test_send, k.url, 0, now() "
                "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS k(test_send, url, code) ON CONFLICT DO NOTHING",
                [[t for t, _ in pairs], [u for _, u in pairs], [new_code() for _ in pairs]],
            )
            cursor.execute(f"SELECT test_send_id, target_url, code FROM {TEST_LINK} WHERE test_send_id = ANY(%s)",
                           [test_send_ids])
            found: dict[int, dict[str, str]] = {}
            for test_send, url, code in cursor.fetchall():
                found.setdefault(test_send, {})[url] = code
        if all(url in found.get(t, {}) for t, url in pairs):
            return found
    raise RuntimeError(f"test sends {test_send_ids}: could not give every link a code")


def test_text(template: str, *, test_send_id: int, codes: dict[str, str]) -> str:
    """`template` (a campaign's text, personal fields not filled in yet) with each link that has a
    test code as the test send's tracked link."""
    return "".join(
        link_text.tracked_url(codes[piece], tokens.make_for_test(codes[piece], test_send_id))
        if is_link and piece in codes else piece
        for is_link, piece in link_text.parts(template)
    )


def merge_clicks(survivor_id: int, duplicate_id: int) -> int:
    """A merge moves the duplicate's clicks to the survivor; a click the survivor already has (same
    link, same minute) is the same click once they are one person, and is dropped."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {CLICK} d WHERE d.member_id = %(dup)s AND EXISTS (SELECT 1 FROM {CLICK} s "
            "WHERE s.member_id = %(survivor)s AND s.link_id = d.link_id AND s.minute = d.minute)",
            {"dup": duplicate_id, "survivor": survivor_id},
        )
        cursor.execute(f"UPDATE {CLICK} SET member_id = %s WHERE member_id = %s", [survivor_id, duplicate_id])
        return cursor.rowcount
