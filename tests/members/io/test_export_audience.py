"""The export from the member list carries the audience builder's definition and honours it: it never
exports more than the list shows, and an incomplete audience is refused with a message, not widened
to every member."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from members.models import MemberTag, Tag, TagGroup
from scrm.models import AuditLog

pytestmark = [pytest.mark.django_db]


def login(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def dark(members):
    (a0, a1, _a2), (b0, _b1) = members
    tag = Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    for m in (a0, a1, b0):
        MemberTag.objects.create(member=m, tag=tag)
    return tag


def names(response):
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["name"]
    return sorted(r[0] for r in rows[1:])


def test_the_export_honours_the_builders_audience(alice, dark):
    client = login(alice)
    builder = {"r.match": "all", "r.0.filter": "tags", "r.0.op": "any", "r.0.value": str(dark.pk)}
    page = client.get("/members/export/", builder).content.decode()
    assert 'data-testid="export-count">3 members' in page
    assert 'name="r.0.filter" value="tags"' in page  # the form carries the builder to the download
    response = client.post("/members/export/", {**builder, "format": "csv", "columns": ["name"]})
    assert response.status_code == 200, response.content
    assert names(response) == ["张0", "张1", "李0"]
    entry = AuditLog.objects.get(action="members.export")
    assert entry.detail["rows"] == 3 and entry.detail["audience"] == {"all": [{"tags": {"any": [dark.pk]}}]}


def test_the_builder_and_the_search_box_narrow_together(alice, dark):
    response = login(alice).post("/members/export/", {"r.match": "all", "r.0.filter": "tags", "r.0.op": "any",
                                                      "r.0.value": str(dark.pk), "q": "张",
                                                      "format": "csv", "columns": ["name"]})
    assert names(response) == ["张0", "张1"]


def test_an_incomplete_audience_is_refused_not_exported_whole(alice, dark):
    client = login(alice)
    incomplete = {"r.match": "all", "r.0.filter": "tags", "r.0.op": "any", "r.0.value": str(dark.pk),
                  "r.1.filter": "tier", "r.1.op": "in", "r.1.value": ""}
    page = client.get("/members/export/", incomplete).content.decode()
    assert 'data-testid="export-count"' not in page
    assert 'class="error"' in page
    response = client.post("/members/export/", {**incomplete, "format": "csv", "columns": ["name"]})
    assert response.status_code == 200 and "Content-Disposition" not in response
    assert "incomplete" in response.content.decode()
    assert not AuditLog.objects.filter(action="members.export").exists()


def test_a_builder_with_no_condition_exports_what_the_list_shows(alice, members):
    response = login(alice).post("/members/export/", {"r.match": "all", "format": "csv", "columns": ["name"]})
    assert names(response) == ["张0", "张1", "张2", "李0", "李1"]


def test_an_unknown_list_parameter_is_refused(alice, members):
    client = login(alice)
    page = client.get("/members/export/?home_store=1").content.decode()
    assert 'data-testid="export-count"' not in page and "home_store" in page
    response = client.post("/members/export/", {"home_store": "1", "format": "csv", "columns": ["name"]})
    assert "Content-Disposition" not in response
    assert not AuditLog.objects.filter(action="members.export").exists()
