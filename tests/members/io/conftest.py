"""Fixtures for import and export: a tag vocabulary, custom attributes, uploaded files kept under a
temporary MEDIA_ROOT, and a helper that runs an import the way the dashboard does."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from members.io import services
from members.models import AttributeDefinition, Tag, TagGroup


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def vocabulary(db):
    """Tag groups as a chocolate brand has them, a rule tag, and custom attributes of each type."""
    taste = TagGroup.objects.create(name="口味偏好")
    price = TagGroup.objects.create(name="价格敏感度", multiple=False)
    baby = TagGroup.objects.create(name="母婴/奶粉品牌")
    dialect = TagGroup.objects.create(name="方言")
    tags = {
        "黑巧": Tag.objects.create(group=taste, name="黑巧"),
        "牛奶巧": Tag.objects.create(group=taste, name="牛奶巧"),
        "高": Tag.objects.create(group=price, name="高"),
        "低": Tag.objects.create(group=price, name="低"),
        "A2": Tag.objects.create(group=baby, name="A2"),
        "粤语": Tag.objects.create(group=dialect, name="粤语"),
        "rule": Tag.objects.create(group=taste, name="高价值", rule={"all": []}),
        "dup_a": Tag.objects.create(group=taste, name="门店"),
        "dup_b": Tag.objects.create(group=dialect, name="门店"),
    }
    attrs = {
        "favourite_cacao": AttributeDefinition.objects.create(
            code="favourite_cacao", label="偏好可可含量", type="choice", choices=["35%", "55%", "70%"]),
        "kids": AttributeDefinition.objects.create(code="kids", label="孩子数", type="number"),
        "first_visit": AttributeDefinition.objects.create(code="first_visit", label="首次到店", type="date"),
        "child_birth_month": AttributeDefinition.objects.create(
            code="child_birth_month", label="孩子出生年月", type="month", sensitive=True),
        "vip": AttributeDefinition.objects.create(code="vip", label="VIP", type="boolean"),
        "note": AttributeDefinition.objects.create(code="note", label="备注", type="text"),
        "flavours": AttributeDefinition.objects.create(
            code="flavours", label="口味", type="multi_choice", choices=["黑巧", "白巧", "牛奶巧"]),
    }
    return {"tags": tags, "attrs": attrs}


def upload(content, name="members.csv"):
    if isinstance(content, str):
        content = content.encode("utf-8")
    return SimpleUploadedFile(name, content, content_type="text/csv")


def run_import(actor, content, mode="valid_rows", name="members.csv"):
    """Upload and run an import inline; returns the finished job."""
    job = services.create_import(actor=actor, upload=upload(content, name), mode=mode)
    return services.run_import(job_id=job.pk)


def xlsx_bytes(rows) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def errors_by_row(job) -> dict[int, list[tuple[str, str]]]:
    """The job's first errors, worded in the active language, by row."""
    found: dict[int, list[tuple[str, str]]] = {}
    for error in job.rendered_errors():
        found.setdefault(error["row"], []).append((error["column"], error["message"]))
    return found
