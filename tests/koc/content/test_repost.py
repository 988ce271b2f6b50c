"""An official repost that reaches members: a draft campaign carrying the post's link, or a draft WeCom
group message to the community's customer group, written through the campaigns' services; a community
mirroring no group is refused with nothing written; store staff and other stores cannot; asking again
while the draft is a draft answers the first repost; the API's body."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign, CampaignStatus, GroupAudience
from communities.services import communities as community_services
from koc.models import Post, Repost
from koc.services import topics
from members.segments import services as segment_services
from scrm.errors import Forbidden, InvalidInput, NotInScope
from scrm.models import User
from wecom.models import CustomerGroup

API = "/api/v1/koc"


@pytest.fixture(autouse=True)
def wecom_connected(settings):
    settings.WECOM_CORP_ID = "ww-test-corp"
    settings.WECOM_SECRET = "test-secret"


@pytest.fixture
def erin(store_b):
    """Store B's manager."""
    user = User.objects.create(username="erin", role="store_manager", store=store_b, display_name="Erin")
    return user


@pytest.fixture
def club(bob, carol, creator):
    CustomerGroup.objects.create(chat_id="wrChatRunners01", name="Runners group", owner_userid="carol",
                                 store=creator.member.home_store)
    return community_services.create_community(actor=bob, data=community_services.CommunityInput(
        store=creator.member.home_store, name="Runners", owner=carol, wecom_chat_id="wrChatRunners01"))


@pytest.fixture
def no_group_club(bob, carol, creator):
    return community_services.create_community(actor=bob, data=community_services.CommunityInput(
        store=creator.member.home_store, name="Walkers", owner=carol))


@pytest.fixture
def segment(alice):
    return segment_services.create_segment(actor=alice, name="everyone", definition={"all": []})


@pytest.fixture
def post(creator, make_post):
    return make_post(creator, title="Summer blind boxes", url="https://www.xiaohongshu.com/explore/summer01")


def test_a_new_campaign_is_a_draft_with_the_post_link(post, alice, segment, creator):
    made = topics.repost(post=post, actor=alice, draft="campaign", segment_id=segment.pk, channel="wecom")
    campaign = Campaign.objects.get(pk=made.campaign_id)
    assert campaign.status == CampaignStatus.DRAFT and campaign.segment_id == segment.pk
    assert campaign.channel == "wecom" and campaign.store_id is None
    assert campaign.attachments == [{"type": "link", "title": "Summer blind boxes",
                                     "url": "https://www.xiaohongshu.com/explore/summer01", "description": "",
                                     "picture_url": ""}]
    assert campaign.content == f"{creator.member.name} on Xiaohongshu: Summer blind boxes"
    assert made.community is None and Post.objects.get(pk=post.pk).reposted_at == made.at
    again = topics.repost(post=post, actor=alice, draft="campaign", segment_id=segment.pk, channel="wecom")
    assert again.pk == made.pk and Campaign.objects.count() == 1


def test_a_community_gets_a_draft_group_message_to_its_customer_group(post, bob, club):
    made = topics.repost(post=post, actor=bob, draft="community", community_id=club.pk)
    campaign = made.campaign
    assert made.community == club and campaign.status == CampaignStatus.DRAFT
    assert campaign.channel == "wecom_group" and campaign.store_id == bob.store_id
    assert campaign.content.endswith("\nhttps://www.xiaohongshu.com/explore/summer01")
    group = CustomerGroup.objects.get(chat_id="wrChatRunners01")
    assert GroupAudience.objects.get(campaign=campaign).group_ids == [group.pk]
    assert topics.repost(post=post, actor=bob, draft="community", community_id=club.pk).pk == made.pk
    assert Repost.objects.count() == 1 and Campaign.objects.count() == 1
    # once the draft has moved on, a new repost writes a new draft
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CANCELLED)
    later = topics.repost(post=post, actor=bob, draft="community", community_id=club.pk)
    assert later.pk != made.pk and Campaign.objects.count() == 2


def test_a_community_without_a_wecom_group_is_refused_and_nothing_written(post, bob, no_group_club):
    with pytest.raises(InvalidInput) as caught:
        topics.repost(post=post, actor=bob, draft="community", community_id=no_group_club.pk)
    assert set(caught.value.details) == {"community"}
    assert "Walkers" in caught.value.details["community"][0]
    assert not Repost.objects.exists() and not Campaign.objects.exists()
    assert Post.objects.get(pk=post.pk).reposted_at is None


def test_store_staff_and_another_store_cannot(post, carol, erin, club, segment):
    with pytest.raises(Forbidden):
        topics.repost(post=post, actor=carol, draft="community", community_id=club.pk)
    with pytest.raises(NotInScope):
        topics.repost(post=post, actor=erin, draft="community", community_id=club.pk)
    with pytest.raises(NotInScope):
        topics.repost(post=post, actor=erin, draft="campaign", segment_id=segment.pk)
    assert not Repost.objects.exists() and not Campaign.objects.exists()


def test_bad_combinations_name_their_field(post, alice, bob, club, segment):
    cases = [({"draft": "somewhere"}, "draft"), ({"draft": "campaign"}, "segment"),
             ({"draft": "community"}, "community"),
             ({"draft": "campaign", "segment_id": segment.pk, "community_id": club.pk}, "community"),
             ({"draft": "community", "community_id": club.pk, "campaign_id": 1}, "campaign")]
    for kwargs, field in cases:
        with pytest.raises(InvalidInput) as caught:
            topics.repost(post=post, actor=alice, **kwargs)
        assert field in caught.value.details, kwargs
    assert not Repost.objects.exists() and not Campaign.objects.exists()


def test_the_api_writes_a_draft_and_keeps_its_body_strict(api_client, post, bob, carol, club, segment):
    api_client.force_authenticate(bob)
    url = f"{API}/posts/{post.pk}/repost/"
    response = api_client.post(url, {"draft": "community", "community": club.pk}, format="json",
                               HTTP_IDEMPOTENCY_KEY="rp-c1")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "post", "community", "campaign", "by", "at"}
    assert body["community"] == club.pk and Campaign.objects.get(pk=body["campaign"]).status == "draft"
    again = api_client.post(url, {"draft": "community", "community": club.pk}, format="json")
    assert again.json()["id"] == body["id"] and Repost.objects.count() == 1
    made = api_client.post(url, {"draft": "campaign", "segment": segment.pk, "channel": "wecom"}, format="json")
    assert made.status_code == 201, made.content
    assert Campaign.objects.get(pk=made.json()["campaign"]).attachments[0]["url"] == post.url
    unknown = api_client.post(url, {"draft": "community", "community": club.pk, "as": "x"}, format="json")
    assert unknown.status_code == 400 and "as" in unknown.json()["error"]["details"]
    wrong = api_client.post(url, {"draft": "elsewhere"}, format="json")
    assert wrong.status_code == 400 and "draft" in wrong.json()["error"]["details"]
    api_client.force_authenticate(carol)
    assert api_client.post(url, {"draft": "community", "community": club.pk}, format="json").status_code == 403
    assert Repost.objects.count() == 2
