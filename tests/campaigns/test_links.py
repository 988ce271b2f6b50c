"""Short links: a campaign's links get codes when it starts sending, each recipient's message carries
their own tracked link, and following it through the real view records one click (one a member a
minute; HEAD not counted; a tampered token counts a click without a member) and redirects; an
unknown code is a 404 page. The channel's byte limit is checked with the tracked links' length.
Clicks are in the member's export, erasure and timeline."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from campaigns import content
from campaigns.links import services as links
from campaigns.links import text as link_text
from campaigns.links import tokens
from campaigns.links.models import Click, ShortLink
from campaigns.models import OutboxMessage
from campaigns.services import sending
from members import timeline
from members.services import privacy
from scrm.errors import InvalidInput

pytestmark = pytest.mark.django_db

PUBLIC = "https://go.example.cn"
TRACKED = re.compile(re.escape(PUBLIC) + r"/l/([0-9A-Za-z]{7})/([0-9A-Za-z_-]+)")
TEXT = "Hi {name}, spring menu: https://shop.example.com/spring?utm=wx. 详情见https://shop.example.com/b，欢迎"


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.SIYU_PUBLIC_URL = PUBLIC


@pytest.fixture
def sent(audience, make_campaign):
    campaign = make_campaign(content=TEXT)
    sending.tick()
    return campaign


def _links_of(member, campaign):
    text = OutboxMessage.objects.get(campaign=campaign, member=member).text
    return text, TRACKED.findall(text)


def test_the_links_of_the_text_are_found_without_trailing_punctuation():
    assert link_text.urls(TEXT) == ["https://shop.example.com/spring?utm=wx", "https://shop.example.com/b"]
    assert link_text.urls("(see https://a.example/x_(y)) and ftp://no.example") == ["https://a.example/x_(y)"]
    assert "".join(piece for _link, piece in link_text.parts(TEXT)) == TEXT


def test_each_recipient_gets_their_own_tracked_links(sent, audience):
    member, other = audience[0][0], audience[0][1]
    codes = dict(ShortLink.objects.filter(campaign=sent).values_list("target_url", "code"))
    assert set(codes) == {"https://shop.example.com/spring?utm=wx", "https://shop.example.com/b"}
    text, found = _links_of(member, sent)
    assert [code for code, _token in found] == [codes["https://shop.example.com/spring?utm=wx"],
                                                codes["https://shop.example.com/b"]]
    assert "shop.example.com" not in text and text.startswith(f"Hi {member.name}, spring menu: {PUBLIC}/l/")
    assert text.endswith("，欢迎") and "/l/" in text and ". 详情见" in text  # the sentence's punctuation stays
    assert all(tokens.member_of(code, token) == member.pk for code, token in found)
    _text, theirs = _links_of(other, sent)
    assert [t for _c, t in theirs] != [t for _c, t in found]  # another member, other tokens


def test_following_a_link_records_one_click_and_redirects(sent, audience, django_assert_num_queries):
    member = audience[0][0]
    _text, [(code, token), *_rest] = _links_of(member, sent)
    client = Client()  # nobody signed in: members follow links from their phones
    with django_assert_num_queries(1):  # the link, the click and the target in one statement
        response = client.get(f"/l/{code}/{token}", HTTP_USER_AGENT="Mozilla/5.0 " + "x" * 500)
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/spring?utm=wx"
    click = Click.objects.get()
    assert (click.campaign_id, click.member_id, click.link.code) == (sent.pk, member.pk, code)
    assert len(click.user_agent) == 200 and click.user_agent.startswith("Mozilla/5.0")

    assert client.get(f"/l/{code}/{token}").status_code == 302  # again within the minute: one click
    assert client.head(f"/l/{code}/{token}").status_code == 302  # a link checker: not counted
    assert Click.objects.count() == 1


def test_a_member_clicking_again_later_is_another_click(sent, audience):
    member = audience[0][0]
    _text, [(code, token), *_rest] = _links_of(member, sent)
    now = timezone.now().replace(second=10, microsecond=0)
    for at in (now, now + dt.timedelta(seconds=5), now + dt.timedelta(minutes=2)):
        assert links.follow(code=code, token=token, user_agent="", now=at) == "https://shop.example.com/spring?utm=wx"
    assert Click.objects.filter(member=member).count() == 2


def test_a_tampered_token_still_redirects_but_names_nobody(sent, audience):
    member, other = audience[0][0], audience[0][1]
    _text, [(code, token), (second_code, second_token)] = _links_of(member, sent)
    client = Client()
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    forged = tokens._b62(other.pk) + token[-tokens.MAC_LENGTH:]  # another member's id under this MAC
    moved = second_token  # a token of this member, for another link
    for bad in (flipped, forged, moved, "x", "0" + token, "%20" * 30):
        response = client.get(f"/l/{code}/{bad}")
        assert response.status_code == 302 and response["Location"] == "https://shop.example.com/spring?utm=wx", bad
    assert Click.objects.filter(member__isnull=True).count() == 6
    assert not Click.objects.filter(member__isnull=False).exists()
    assert tokens.member_of(second_code, second_token) == member.pk


def test_an_unknown_code_is_a_not_found_page(sent):
    response = Client().get("/l/NOSUCH1/abcdefghijk")
    assert response.status_code == 404
    assert "Link not found" in response.content.decode()
    assert not Click.objects.exists()
    assert Client().post(f"/l/{ShortLink.objects.first().code}/x").status_code == 405


def test_a_token_made_under_a_retired_key_verifies_while_it_is_a_fallback(settings):
    token = tokens.make("Abc1234", 42)
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "n" * 50, [old]
    assert tokens.member_of("Abc1234", token) == 42
    settings.SECRET_KEY_FALLBACKS = []
    assert tokens.member_of("Abc1234", token) is None


def test_links_get_their_codes_once_when_sending_starts(audience, make_campaign):
    draft = make_campaign(content="See https://a.example/x and https://a.example/x again", start=False)
    assert not ShortLink.objects.filter(campaign=draft).exists()  # a draft leaves none behind
    assert links.ensure_links(campaign=draft) == links.ensure_links(campaign=draft)
    assert ShortLink.objects.filter(campaign=draft).count() == 1


def test_the_byte_limit_counts_the_tracked_links():
    limit = 4000  # the outbox channel's
    link = "http://a.co/"
    text = " ".join([link] * 120)  # 1,559 bytes as written
    assert len(text.encode()) < limit
    with pytest.raises(InvalidInput) as refused:
        content.check(text, max_bytes=limit)
    message = refused.value.details["content"][0]
    size = link_text.tracked_size(text)
    assert size == 119 + 120 * link_text.tracked_url_bytes() and size > limit
    assert message == (f"The text is {size} bytes once its links are replaced by tracked links of up to "
                       f"{link_text.tracked_url_bytes()} bytes each; this channel takes at most {limit}.")
    assert link_text.tracked_url_bytes() == len(f"{PUBLIC}/l/") + 7 + 1 + 19
    content.check(" ".join([link] * 50), max_bytes=limit)  # fits
    with pytest.raises(InvalidInput) as too_long:
        content.check("https://a.example/" + "x" * 2000, max_bytes=None)
    assert "A link is longer than 2000 characters" in too_long.value.details["content"][0]


def test_a_text_over_the_limit_is_refused_when_the_campaign_is_saved(audience, make_campaign):
    with pytest.raises(InvalidInput) as refused:
        make_campaign(content="Hi " + " ".join(["http://a.co/"] * 120), start=False)
    assert "once its links are replaced by tracked links" in refused.value.details["content"][0]


def test_clicks_are_in_the_export_timeline_and_erasure(sent, audience, alice):
    member, other = audience[0][0], audience[0][1]
    for who in (member, other):
        _text, [(code, token), *_rest] = _links_of(who, sent)
        Client().get(f"/l/{code}/{token}", HTTP_USER_AGENT="WeChat/8.0")

    data = privacy.export_member_data(member=member, actor=alice)["campaign_clicks"]
    assert [(c["campaign_id"], c["target_url"], c["user_agent"]) for c in data["clicks"]] == [
        (sent.pk, "https://shop.example.com/spring?utm=wx", "WeChat/8.0")
    ]
    texts = [e.text for e in timeline.page(member, alice, kinds=["campaigns"]).entries]
    assert texts[0] == f"Opened a link of campaign {sent.name} (https://shop.example.com/spring?utm=wx)"

    privacy.erase_member(member=member, actor=alice, reason="request")
    assert not Click.objects.filter(member=member).exists()
    anonymous = Click.objects.get(member__isnull=True)
    assert anonymous.user_agent == "" and anonymous.campaign_id == sent.pk  # the count stays true
    assert Click.objects.get(member=other).user_agent == "WeChat/8.0"  # nobody else's is touched


def test_the_timeline_shows_clicks_only_to_readers_who_see_the_campaign(sent, audience, alice, dave):
    member = audience[0][0]
    _text, [(code, token), *_rest] = _links_of(member, sent)
    Client().get(f"/l/{code}/{token}")
    window = timeline.Window(member=member, reader=dave, limit=10, source="campaign_clicks")
    from campaigns.links.timeline import clicks_source

    assert clicks_source(window) == []  # a brand-wide campaign is not a store clerk's
    window = timeline.Window(member=member, reader=alice, limit=10, source="campaign_clicks")
    assert len(clicks_source(window)) == 1


def test_a_channels_own_check_sees_the_links_as_sent():
    text = "Sale: https://a.example/x"
    sent = link_text.as_sent(text)
    assert sent.startswith(f"Sale: {PUBLIC}/l/") and len(sent.encode()) == link_text.tracked_size(text)


def test_a_merged_members_clicks_follow_them(sent, audience, alice):
    from members.services import merge

    survivor, duplicate = audience[0][0], audience[0][1]
    for who in (survivor, duplicate):
        _text, [(code, token), *_rest] = _links_of(who, sent)
        links.follow(code=code, token=token, user_agent="", now=timezone.now().replace(second=10, microsecond=0))
    merge.merge_members(survivor=survivor, duplicate=duplicate, actor=alice)
    # Both clicked the same link in the same minute: one person's one click now.
    assert Click.objects.filter(member=survivor).count() == 1
    assert not Click.objects.filter(member=duplicate).exists()
