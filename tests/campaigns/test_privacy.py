"""A member's deliveries and outbox messages are in their data-subject export; erasure blanks the
outbox text and address and keeps the deliveries without personal text; the timeline shows the
messages sent."""

from __future__ import annotations

import pytest

from campaigns.models import Delivery, OutboxMessage
from campaigns.services import sending
from members import timeline
from members.services import privacy

pytestmark = pytest.mark.django_db


def test_export_erasure_and_timeline(audience, make_campaign, alice):
    member = audience[0][0]
    campaign = make_campaign(content="Hello {name}")
    sending.tick()

    data = privacy.export_member_data(member=member, actor=alice)["campaigns"]
    assert [d["campaign_id"] for d in data["deliveries"]] == [campaign.pk]
    assert data["deliveries"][0]["state"] == "sent"
    assert data["outbox"][0]["text"] == f"Hello {member.name}"

    texts = [e.text for e in timeline.page(member, alice, kinds=["campaigns"]).entries]
    assert texts == [f"Campaign {campaign.name} sent a message (Outbox (built in))"]

    privacy.erase_member(member=member, actor=alice, reason="request")

    message = OutboxMessage.objects.get(campaign=campaign, member=member)
    assert (message.text, message.address) == ("", "")
    delivery = Delivery.objects.get(campaign=campaign, member=member)
    assert delivery.state == "sent" and delivery.provider_message_id == ""
    other = OutboxMessage.objects.get(campaign=campaign, member=audience[0][1])
    assert other.text == f"Hello {audience[0][1].name}"  # nobody else's is touched
