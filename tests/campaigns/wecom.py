"""The local WeCom server and staff for the WeCom channel's tests: three staff members (carol and
erin of store A, dave of store B) in Siyu and in the server, and `seed`, which writes a staff
member's contacts as a contact sync would (members consenting to marketing)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from campaigns.models import Delivery
from campaigns.queries import counts_by_state
from members.models import Member, StaffRelation
from scrm.models import Role, User
from tests.campaigns.conftest import consent
from tests.wecom.conftest import make_corp, no_wecom  # noqa: F401 - the local WeCom server, or none
from wecom.models import WecomContact, WecomFollow, WecomStaff

STAFF = ["carol", "erin", "dave"]
CREATE = "externalcontact/add_msg_template"
TEXT = "春季新品到店，欢迎来试吃"


@pytest.fixture
def erin(store_a):
    return User.objects.create(username="erin", role=Role.STORE_STAFF, store=store_a, display_name="Erin")


@pytest.fixture
def wstaff(carol, erin, dave, store_a, store_b):
    return {
        "carol": WecomStaff.objects.create(userid="carol", name="Carol", user=carol, store=store_a),
        "erin": WecomStaff.objects.create(userid="erin", name="Erin", user=erin, store=store_a),
        "dave": WecomStaff.objects.create(userid="dave", name="Dave", user=dave, store=store_b),
    }


def seed(corp, ws: WecomStaff, count: int | None = None) -> list[Member]:
    """The staff member's contacts in the local server as a contact sync writes them (member owned by
    the staff member, relation, contact, follow), each member consenting to marketing."""
    user, store = ws.user, ws.store
    indices = corp.contacts_of(ws.userid)[:count]
    made = Member.objects.bulk_create([Member(name=f"客户{i}", home_store=store, owner=user) for i in indices])
    relations = StaffRelation.objects.bulk_create(
        [StaffRelation(member=m, staff=user, store=store, is_owner=True) for m in made])
    contacts = WecomContact.objects.bulk_create(
        [WecomContact(external_userid=corp.external_userid(i), member=m) for i, m in zip(indices, made, strict=True)])
    WecomFollow.objects.bulk_create(
        [WecomFollow(contact=c, staff=ws, relation=r) for c, r in zip(contacts, relations, strict=True)])
    for m in made:
        consent(m)
    return made


@pytest.fixture
def server(make_corp, wstaff):  # noqa: F811 - make_corp is the fixture imported above
    """Staff confirm at once (every one of them) unless a test says otherwise."""
    return make_corp(staff=STAFF, contacts_per_staff=4, shared_ratio=0, confirm_delay=0, confirm_share=1.0)


def wecom_campaign(make_campaign, **fields):
    fields.setdefault("content", TEXT)
    return make_campaign(channel="wecom", **fields)


def states(campaign) -> dict[str, int]:
    return {k: v for k, v in counts_by_state([campaign.pk])[campaign.pk].items() if v and k != "total"}


def due_now(campaign) -> None:
    Delivery.objects.filter(campaign=campaign, state="pending").update(next_attempt_at=timezone.now())
