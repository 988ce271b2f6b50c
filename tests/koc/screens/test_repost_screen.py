"""The post page's repost to members: the form (communities the user reaches, or a new campaign) writes
the draft and lands on it; a community mirroring no WeCom group is refused beside its field with
nothing written; store staff see no form and are refused; another store's manager reaches no post."""

from __future__ import annotations

import pytest
from django.test import Client

from campaigns.models import Campaign, CampaignStatus
from communities.services import communities as community_services
from koc.models import Repost
from members.segments import services as segment_services
from scrm.models import User
from tests.koc.screens.conftest import make_post
from wecom.models import CustomerGroup


@pytest.fixture(autouse=True)
def wecom_connected(settings):
    settings.WECOM_CORP_ID = "ww-test-corp"
    settings.WECOM_SECRET = "test-secret"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def clubs(koc, bob, carol, store_a):
    CustomerGroup.objects.create(chat_id="wrChatRunners01", name="Runners group", owner_userid="carol", store=store_a)
    runners = community_services.create_community(actor=bob, data=community_services.CommunityInput(
        store=store_a, name="Runners", owner=carol, wecom_chat_id="wrChatRunners01"))
    walkers = community_services.create_community(actor=bob, data=community_services.CommunityInput(
        store=store_a, name="Walkers", owner=carol))
    return runners, walkers


def test_a_repost_to_a_community_lands_on_the_draft_group_message(koc, bob, clubs):
    runners, walkers = clubs
    post = make_post(koc["ca"], 1)
    manager = client_for(bob)
    page = manager.get(f"/koc/posts/{post.pk}/").content.decode()
    assert 'data-testid="repost-draft-slot"' in page
    form = manager.get(f"/koc/posts/{post.pk}/repost/draft/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="repost-draft-form"' in form and "Runners" in form and "Walkers" in form
    assert "<html" not in form
    response = manager.post(f"/koc/posts/{post.pk}/repost/draft/", {"community": runners.pk, "channel": "wecom"})
    made = Repost.objects.get(post=post)
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{made.campaign_id}/"
    assert made.community == runners and made.campaign.channel == "wecom_group"
    assert made.campaign.status == CampaignStatus.DRAFT
    landed = manager.get(response["Location"])
    assert "written as a draft" in landed.content.decode()
    again = manager.post(f"/koc/posts/{post.pk}/repost/draft/", {"community": runners.pk, "channel": "wecom"})
    assert again["Location"] == response["Location"] and Repost.objects.count() == 1

    refused = manager.post(f"/koc/posts/{post.pk}/repost/draft/", {"community": walkers.pk, "channel": "wecom"})
    assert refused.status_code == 400
    assert "mirrors no WeCom customer group" in refused.content.decode()
    assert Repost.objects.count() == 1 and Campaign.objects.count() == 1


def test_a_repost_as_a_new_campaign_lands_on_its_edit_page(koc, alice):
    post = make_post(koc["ca"], 2)
    segment = segment_services.create_segment(actor=alice, name="everyone", definition={"all": []})
    operator = client_for(alice)
    missing = operator.post(f"/koc/posts/{post.pk}/repost/draft/", {"community": "", "channel": "wecom"})
    assert missing.status_code == 400 and "Choose the segment" in missing.content.decode()
    assert not Campaign.objects.exists()
    response = operator.post(f"/koc/posts/{post.pk}/repost/draft/",
                             {"community": "", "segment": segment.pk, "channel": "wecom"})
    made = Repost.objects.get(post=post)
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{made.campaign_id}/edit/"
    assert made.campaign.attachments[0]["url"] == post.url and made.campaign.segment_id == segment.pk
    assert operator.get(response["Location"]).status_code == 200


def test_store_staff_and_another_stores_manager_cannot(koc, carol, store_b, clubs):
    runners, _walkers = clubs
    post = make_post(koc["ca"], 3)
    clerk = client_for(carol)
    assert clerk.get(f"/koc/posts/{post.pk}/repost/draft/", HTTP_HX_REQUEST="true").content == b""
    assert clerk.get(f"/koc/posts/{post.pk}/repost/draft/").status_code == 403
    assert clerk.post(f"/koc/posts/{post.pk}/repost/draft/", {"community": runners.pk}).status_code == 403
    erin = User.objects.create(username="erin", role="store_manager", store=store_b, display_name="Erin")
    other = client_for(erin)
    assert other.post(f"/koc/posts/{post.pk}/repost/draft/", {"community": runners.pk}).status_code == 404
    assert not Repost.objects.exists() and not Campaign.objects.exists()
