"""members.services.bulk_new: brand-new members set-based, as the per-item upsert creates them;
items whose identity someone holds, or that need the per-item rules, are handed back untouched."""

from __future__ import annotations

import pytest
from django.db import transaction

from members.models import Channel, Identity, Member, MemberEvent
from members.segments import index
from members.services import bulk_new, upsert
from members.services.identities import IdentityKey
from scrm.actors import SystemActor

pytestmark = pytest.mark.django_db

ACTOR = SystemActor("wecom:contacts")


def key(channel, external_id):
    return IdentityKey(channel, "", external_id)


def written(member_id) -> tuple:
    m = Member.objects.get(pk=member_id)
    event = MemberEvent.objects.get(member=m)
    return (m.name, m.phone, m.gender, m.birthday, m.home_store_id, m.owner_id, m.source, m.stage, m.attributes,
            sorted(Identity.objects.filter(member=m).values_list("channel", "external_id")),
            event.kind, event.data, event.actor_id, event.actor_label)


def test_new_members_are_written_as_the_per_item_upsert_writes_them(store_a):
    items = [
        bulk_new.NewMember(keys=(key(Channel.WECOM, "wm-1"), key(Channel.WECHAT_UNIONID, "o-1")), name="王",
                           gender="m", home_store=store_a),
        bulk_new.NewMember(keys=(key(Channel.WECOM, "wm-2"),)),
    ]
    raw = [
        {"identities": [{"channel": "wecom", "external_id": "wm-1"},
                        {"channel": "wechat_unionid", "external_id": "o-1"}],
         "name": "王", "gender": "m", "home_store": store_a.code},
        {"identities": [{"channel": "wecom", "external_id": "wm-2"}]},
    ]
    with transaction.atomic():
        results = upsert.bulk_upsert_members_per_item(items=raw, actor=ACTOR).results
        reference = [written(r.member_id) for r in results]
        transaction.set_rollback(True)
    claim = bulk_new.claim(items=items, actor=ACTOR)
    assert claim.taken == [] and sorted(claim.member_of) == [0, 1]
    assert claim.create() == 2
    assert [written(claim.member_of[i]) for i in (0, 1)] == reference
    assert index.differences() == []


def test_an_item_with_one_identity_held_keeps_none_and_is_handed_back(store_a):
    held = upsert.upsert_member(identities=[{"channel": "wechat_unionid", "external_id": "o-held"}], actor=ACTOR)
    items = [
        bulk_new.NewMember(keys=(key(Channel.WECOM, "wm-a"), key(Channel.WECHAT_UNIONID, "o-held"))),
        bulk_new.NewMember(keys=(key(Channel.WECOM, "wm-b"),), name="B"),
    ]
    claim = bulk_new.claim(items=items, actor=ACTOR)
    assert claim.taken == [0] and list(claim.member_of) == [1]
    assert not Identity.objects.filter(external_id="wm-a").exists()  # no identity left behind
    claim.create()
    assert Member.objects.count() == 2
    assert Identity.objects.get(external_id="o-held").member_id == held.member_id


def test_items_needing_the_per_item_rules_are_handed_back(store_a):
    store_a.is_active = False
    store_a.save(update_fields=["is_active"])
    items = [
        bulk_new.NewMember(keys=(key(Channel.WECOM, "wm-closed"),), home_store=store_a),  # closed store
        bulk_new.NewMember(keys=(key(Channel.PHONE, "13800138000"),)),  # phones are normalised per item
        bulk_new.NewMember(keys=(key(Channel.WECOM, " wm-space"),)),  # not clean
        bulk_new.NewMember(keys=(key(Channel.WECOM, "wm-n"),), name=" padded "),
        bulk_new.NewMember(keys=(key(Channel.WECOM, "wm-g"),), gender="x"),
        bulk_new.NewMember(keys=()),
        bulk_new.NewMember(keys=(key(Channel.WECOM, "wm-twice"), key(Channel.WECHAT_UNIONID, "o-same"))),
        bulk_new.NewMember(keys=(key(Channel.WECOM, "wm-twice-2"), key(Channel.WECHAT_UNIONID, "o-same"))),
        bulk_new.NewMember(keys=(key(Channel.WECOM, "wm-ok"),)),
    ]
    claim = bulk_new.claim(items=items, actor=ACTOR)
    assert claim.taken == [0, 1, 2, 3, 4, 5, 6, 7]
    assert list(claim.member_of) == [8]
    assert not bulk_new.fits(items[8], bulk_new.access_for(None))  # an actor without every store: per item
    claim.create()
    with pytest.raises(RuntimeError):
        claim.create()
    assert list(Identity.objects.values_list("external_id", flat=True)) == ["wm-ok"]
