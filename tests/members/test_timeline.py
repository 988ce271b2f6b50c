"""The member timeline (members.timeline): every kind of entry appears after the real action, in
the reader's language whatever language it was written in, scoped like the member, paged by
cursor, filterable by kind; and the member pages show it."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from rest_framework.test import APIClient

from members import timeline
from members.models import AttributeDefinition, Tag, TagGroup
from members.services import attributes, consent, merge, notes, relations, tags
from scrm.errors import InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_language():
    """A request in Chinese leaves its language active in the thread; later tests expect theirs."""
    language = translation.get_language()
    yield
    translation.activate(language)


def client_for(user, language="en") -> APIClient:
    client = APIClient(headers={"accept-language": language})
    client.force_authenticate(user)
    return client


def texts(member, reader, language="en", **kwargs) -> list[str]:
    with translation.override(language):
        return [e.text for e in timeline.page(member, reader, **kwargs).entries]


@pytest.fixture
def member(members):
    return members[0][0]


@pytest.fixture
def diet(db):
    group = TagGroup.objects.create(name="饮食", multiple=True)
    return Tag.objects.create(group=group, name="无麸质")


# --- each kind after the real action -----------------------------------------------------------------


def test_tags_added_and_removed_are_told_with_who(member, carol, bob, diet):
    tags.tag_member(member=member, tag_ids=[diet.pk], actor=carol)
    assert texts(member, bob)[0] == "Tag added: 饮食 · 无麸质 (By hand)"
    tags.untag_member(member=member, tag=diet, actor=bob)
    page = timeline.page(member, bob)
    with translation.override("en"):
        removed = page.entries[0]
        assert removed.text.startswith("Tag removed: 饮食 · 无麸质 (added ")
        assert (removed.kind, removed.actor) == ("tags", "Bob")


def test_bulk_untag_records_one_removal_per_member(members, alice, diet):
    ids = [m.pk for m in members[0]]
    tags.tag_members(tag=diet, members=ids, actor=alice)
    result = tags.untag_members(tag=diet, members=ids, actor=alice)
    assert result.changed == 3
    for m in members[0]:
        assert texts(m, alice, kinds=["tags"])[0].startswith("Tag removed: 饮食 · 无麸质")


def test_single_choice_replacement_is_a_removal(member, carol):
    group = TagGroup.objects.create(name="方言", multiple=False)
    wu, yue = Tag.objects.create(group=group, name="吴语"), Tag.objects.create(group=group, name="粤语")
    tags.tag_member(member=member, tag_ids=[wu.pk], actor=carol)
    tags.tag_member(member=member, tag_ids=[yue.pk], actor=carol)
    shown = texts(member, carol, kinds=["tags"])
    assert "Tag added: 方言 · 粤语 (By hand)" in shown
    assert any(t.startswith("Tag removed: 方言 · 吴语") for t in shown)


def test_a_note_consent_a_relation_and_a_merge(member, members, alice, carol):
    notes.add_note(member=member, body="喜欢粤语沟通", kind="call", actor=carol)
    consent.set_consent(member=member, purpose="marketing", channel="sms", granted=True, source="store", actor=carol)
    relations.add_relation(member=member, staff=carol, actor=carol)
    merge.merge_members(survivor=member, duplicate=members[0][1], actor=alice, reason="same person")
    shown = texts(member, alice)
    assert f"Duplicate profile {members[0][1].pk} merged into this one" in shown
    assert "Added as a contact by carol" in shown
    assert "Consent given: Marketing messages (SMS)" in shown
    assert "Call or chat: 喜欢粤语沟通" in shown


def test_sensitive_attribute_values_stay_with_those_who_may_see_them(member, bob, carol, alice):
    definition = AttributeDefinition.objects.create(code="allergy", label="Allergy", type="text")
    attributes.set_attributes(member=member, values={"allergy": "peanuts"}, actor=bob)
    # Marked sensitive after the value was recorded: the history follows today's rule.
    AttributeDefinition.objects.filter(pk=definition.pk).update(sensitive=True)
    assert texts(member, bob, kinds=["profile"])[0] == "Attributes changed: Allergy: — → peanuts"
    assert texts(member, carol, kinds=["profile"])[0] == "Attributes changed: Allergy (value not shown)"
    body = client_for(carol).get(f"/api/v1/members/{member.pk}/timeline/?kind=profile").json()
    assert "peanuts" not in str(body)


# --- language --------------------------------------------------------------------------------------


def test_entries_follow_the_readers_language_not_the_writers(member, carol, diet):
    with translation.override("zh-hans"):
        notes.add_note(member=member, body="note", kind="visit", actor=carol)
        tags.tag_member(member=member, tag_ids=[diet.pk], actor=carol)
    english = texts(member, carol, "en")
    chinese = texts(member, carol, "zh-hans")
    assert "Store visit: note" in english
    assert english != chinese  # the same rows, worded again for the reader


def test_the_demo_actor_is_named_for_people(member, diet):
    from scrm.actors import SystemActor

    tags.tag_member(member=member, tag_ids=[diet.pk], actor=SystemActor("demo"), source="import")
    with translation.override("en"):
        entry = timeline.page(member, SystemActor()).entries[0]
        assert entry.actor == "Demo data"


# --- paging, filtering, bounds -----------------------------------------------------------------------


def test_pages_follow_the_cursor_without_gaps_or_repeats(member, carol):
    moment = timezone.now()
    for i in range(7):
        note = notes.add_note(member=member, body=f"n{i}", actor=carol)
        # Several at the very same moment: the cursor breaks ties by source and id.
        type(note).objects.filter(pk=note.pk).update(created_at=moment - datetime.timedelta(seconds=i // 3))
    seen, cursor = [], None
    while True:
        page = timeline.page(member, carol, kinds=["notes"], limit=3, cursor=cursor)
        seen += [e.params["body"] for e in page.entries]
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert seen == [f"n{i}" for i in (2, 1, 0, 5, 4, 3, 6)] or sorted(seen) == [f"n{i}" for i in range(7)]
    assert len(seen) == 7 and len(set(seen)) == 7


def test_a_page_costs_one_bounded_query_per_source(member, carol):
    for i in range(30):
        notes.add_note(member=member, body=f"n{i}", actor=carol)
    with CaptureQueriesContext(connection) as queries:
        page = timeline.page(member, carol, limit=5)
    assert len(page.entries) == 5 and page.has_more
    for query in queries.captured_queries:
        assert "LIMIT" in query["sql"] or "IN (" in query["sql"], query["sql"]
    assert len(queries.captured_queries) <= 2 * len(timeline._SOURCES)


def test_unknown_kind_or_bad_cursor_is_refused(member, carol):
    with pytest.raises(InvalidInput) as caught:
        timeline.page(member, carol, kinds=["gossip"])
    assert "kind" in caught.value.details
    with pytest.raises(InvalidInput) as caught:
        timeline.page(member, carol, cursor="not-a-cursor")
    assert "cursor" in caught.value.details


# --- the API -----------------------------------------------------------------------------------------


def test_api_pages_in_the_language_asked(member, carol, diet):
    tags.tag_member(member=member, tag_ids=[diet.pk], actor=carol)
    for i in range(3):
        notes.add_note(member=member, body=f"n{i}", actor=carol)
    english = client_for(carol, "en").get(f"/api/v1/members/{member.pk}/timeline/?limit=2")
    assert english.status_code == 200, english.content
    body = english.json()
    assert [e["text"] for e in body["results"]] == ["Note: n2", "Note: n1"]
    assert body["results"][0]["kind"] == "notes" and body["results"][0]["by"] == "Carol"
    assert body["next"] and "tags" in body["kinds"]
    more = client_for(carol, "en").get(f"/api/v1/members/{member.pk}/timeline/?limit=2&cursor={body['next']}")
    assert [e["text"] for e in more.json()["results"]] == ["Note: n0", "Tag added: 饮食 · 无麸质 (By hand)"]
    chinese = client_for(carol, "zh-hans").get(f"/api/v1/members/{member.pk}/timeline/?kind=tags").json()
    assert chinese["results"][0]["text"] != "Tag added: 饮食 · 无麸质 (By hand)"
    assert chinese["kinds"]["tags"] != "Tags"


def test_api_is_scoped_like_the_member(member, dave):
    response = client_for(dave).get(f"/api/v1/members/{member.pk}/timeline/")
    assert response.status_code == 404
    assert response.json()["error"]["code"]


def test_api_refuses_bad_parameters_in_the_error_shape(member, carol):
    client = client_for(carol)
    for query, field in (
        ("kind=gossip", "kind"),
        ("cursor=xyz", "cursor"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("page=2", "page"),
    ):
        response = client.get(f"/api/v1/members/{member.pk}/timeline/?{query}")
        assert response.status_code == 400, query
        assert field in response.json()["error"]["details"], (query, response.json())


def test_api_key_needs_the_members_scope(member, key_client):
    assert key_client(scopes=("orders:read",)).get(f"/api/v1/members/{member.pk}/timeline/").status_code == 403
    assert key_client(scopes=("members:read",)).get(f"/api/v1/members/{member.pk}/timeline/").status_code == 200


def test_the_route_is_in_the_openapi_schema(alice):
    schema = client_for(alice).get("/api/schema/?format=json")
    assert schema.status_code == 200
    operation = schema.json()["paths"]["/api/v1/members/{member_id}/timeline/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"member_id", "kind", "cursor", "limit"}
    assert {"200", "400", "404"} <= set(operation["responses"])


# --- the member pages --------------------------------------------------------------------------------


def test_member_page_shows_the_history_in_the_readers_language(client, member, carol, diet):
    tags.tag_member(member=member, tag_ids=[diet.pk], actor=carol)
    notes.add_note(member=member, body="买了奶粉", actor=carol)
    client.force_login(carol)
    english = client.get(f"/members/{member.pk}/", headers={"accept-language": "en"}).content.decode()
    section = english.split('data-testid="history"')[1]
    assert "Note: 买了奶粉" in section and "Tag added: 饮食 · 无麸质" in section and "Nothing yet." not in section
    chinese = client.get(f"/members/{member.pk}/", headers={"accept-language": "zh-hans"}).content.decode()
    assert "Note: 买了奶粉" not in chinese.split('data-testid="history"')[1]


def test_history_filter_and_older_pages_come_from_one_view(client, member, carol, diet):
    tags.tag_member(member=member, tag_ids=[diet.pk], actor=carol)
    for i in range(3):
        notes.add_note(member=member, body=f"n{i}", actor=carol)
    client.force_login(carol)
    url = f"/members/{member.pk}/timeline/"
    only_tags = client.get(url + "?kind=tags", headers={"hx-request": "true", "accept-language": "en"})
    assert only_tags.status_code == 200
    html = only_tags.content.decode()
    assert "Tag added" in html and "Note:" not in html and "<html" not in html
    first = client.get(url + "?kind=notes&limit=2", headers={"hx-request": "true", "accept-language": "en"})
    cursor = first.context["timeline"].next_cursor
    assert cursor and 'data-testid="timeline-more"' in first.content.decode()
    older = client.get(
        url, {"kind": "notes", "limit": 2, "cursor": cursor}, headers={"hx-request": "true", "accept-language": "en"}
    ).content.decode()
    assert "Note: n0" in older and "Note: n2" not in older and "timeline-kinds" not in older
    assert client.get(url, headers={"accept-language": "en"}).content.decode().count("<html") == 1


def test_history_screen_is_scoped(client, member, dave):
    client.force_login(dave)
    assert client.get(f"/members/{member.pk}/timeline/").status_code == 404


def test_phone_member_page_shows_a_short_recent_list(client, member, carol):
    for i in range(8):
        notes.add_note(member=member, body=f"n{i}", actor=carol)
    client.force_login(carol)
    html = client.get(f"/m/members/{member.pk}/", headers={"accept-language": "en"}).content.decode()
    recent = html.split('data-testid="history"')[1]
    assert recent.count("<li") == 5 and "Note: n7" in recent and "Note: n2" not in recent


def test_an_import_that_touched_the_member_is_told(alice, store_a, diet, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from members.io import services as imports
    from members.models import Member

    settings.MEDIA_ROOT = str(tmp_path / "media")
    upload = SimpleUploadedFile(
        "members.csv", "姓名,手机号,门店,标签\n王芳,13800138123,SH01,饮食:无麸质\n".encode(), content_type="text/csv"
    )
    job = imports.create_import(actor=alice, upload=upload, mode="strict")
    imports.run_import(job_id=job.pk)
    imported = Member.objects.get(phone="+8613800138123")
    shown = texts(imported, alice)
    assert "Tag added: 饮食 · 无麸质 (Import)" in shown
    assert shown[-1] == "Became a member (source: Import)"


def test_admin_columns_are_named_in_the_readers_language(client, alice, diet):
    from django.contrib.admin.utils import label_for_field

    from members.models import MemberEvent, Tag

    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    html = client.get("/admin/members/tag/", headers={"accept-language": "en"}).content.decode()
    assert "Rule tag" in html and "IS RULE" not in html.upper().replace("RULE TAG", "")
    assert 'alt="False"' in html  # the yes/no icon, not the word
    with translation.override("zh-hans"):
        assert str(label_for_field("kind", MemberEvent)) != "kind"
        assert str(label_for_field("is_rule", Tag, model_admin=None)) != "Rule tag"
