"""The KOC screens in a real Chromium: an operator approves an application, records a post for the
new creator and a metric snapshot on it (a lower count refused on its field first); the overview's
pyramid is drawn (a canvas) beside a table with the right numbers, at 1280 and 390 px; the phone
page a clerk submits a post from, at 390 px, shows the platform read from the pasted link. No page
scrolls sideways and none logs a script error (a Content-Security-Policy refusal included)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from koc.models import Creator, MetricSnapshot, Post
from tests.browsing import DESKTOP, OVERFLOW, PHONE, login
from tests.koc.screens.conftest import make_post

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_an_operator_approves_records_a_post_and_a_snapshot(browser, live_server, koc, members, alice, shot):
    a, _b = members
    application = koc["application"]
    ctx, page = login(browser, live_server, "alice", **DESKTOP)
    errors = watch(page)
    page.goto(f"{live_server.url}/koc/applications/")
    row = page.get_by_test_id(f"application-{application.pk}")
    row.locator("select[name=mentor]").select_option(str(koc["ca2"].pk))
    shot(page, "koc-applications-1280")
    row.get_by_role("button", name="Approve").click()
    page.wait_for_load_state("networkidle")
    creator = Creator.objects.get(member=a[2])
    assert page.url.endswith(f"/koc/creators/{creator.pk}/")
    assert koc["ca2"].member.name in page.get_by_test_id("mentor").inner_text()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "koc-creator-detail-1280")

    page.get_by_test_id("record-post").click()
    page.wait_for_load_state("networkidle")
    page.fill("#id_url", "https://www.xiaohongshu.com/explore/66aa01?xsec_token=abc")
    page.get_by_test_id("platform-detected").get_by_text("Xiaohongshu").wait_for()
    page.fill("#id_published_at", local(timezone.now() - dt.timedelta(hours=5)))
    page.fill("#id_title", "Weighing a blind box")
    page.get_by_test_id("save").click()
    page.wait_for_load_state("networkidle")
    post = Post.objects.get(creator=creator)
    assert page.url.endswith(f"/koc/posts/{post.pk}/")

    page.fill("#id_taken_at", local(timezone.now() - dt.timedelta(hours=1)))
    for name, value in {"views": "1200", "likes": "80", "saves": "30", "comments": "12", "shares": "4"}.items():
        page.fill(f"#id_{name}", value)
    page.get_by_test_id("save-snapshot").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("fig-views").inner_text() == "1,200"
    page.locator("[data-testid=snapshot-chart] canvas").wait_for()

    page.fill("#id_taken_at", local(timezone.now() - dt.timedelta(minutes=20)))
    assert page.input_value("#id_likes") == "80"  # the form starts from the latest counts
    page.fill("#id_views", "900")
    page.get_by_test_id("save-snapshot").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_test_id("field-views").locator(".errorlist").is_visible()
    assert page.get_by_test_id("field-likes").locator(".errorlist").count() == 0
    assert MetricSnapshot.objects.filter(post=post).count() == 1
    shot(page, "koc-post-detail-1280")
    assert page.evaluate(OVERFLOW) <= 0
    assert [e for e in errors if "400" not in e] == []  # the refused snapshot answers 400
    ctx.close()


@pytest.mark.parametrize(("size", "screen"), [("1280", DESKTOP), ("390", PHONE)])
def test_the_overview_draws_the_pyramid(browser, live_server, koc, alice, shot, size, screen):
    make_post(koc["ca"], 1, views=1500, interactions=120, media_value="75.00")
    make_post(koc["ca2"], 2, views=9000, interactions=1500, media_value="450.00", viral=True)
    ctx, page = login(browser, live_server, "alice", **screen)
    errors = watch(page)
    page.goto(f"{live_server.url}/koc/")
    page.wait_for_load_state("networkidle")
    canvas = page.locator("[data-testid=pyramid-chart] canvas")
    canvas.wait_for()
    box = canvas.bounding_box()
    assert box["width"] > 200 and box["height"] > 150
    cells = {rank: page.get_by_test_id(f"pyramid-{rank}").locator("td.num").first.inner_text() for rank in (1, 2, 3)}
    assert cells == {1: "2", 2: "0", 3: "1"}
    assert page.locator("[data-testid=monthly] canvas").count() == 1
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, f"koc-overview-{size}")
    assert errors == []
    ctx.close()


def test_a_clerk_submits_a_post_on_a_phone(browser, live_server, koc, carol, shot):
    ctx, page = login(browser, live_server, "carol", **PHONE)
    errors = watch(page)
    page.goto(f"{live_server.url}/m/")
    page.get_by_test_id("koc-today").locator("a").click()
    page.wait_for_load_state("networkidle")
    assert page.evaluate(OVERFLOW) <= 0
    page.select_option("#id_creator", str(koc["ca"].pk))
    page.fill("#id_url", "ftp://nowhere")
    page.get_by_test_id("platform-detected").locator(".error").wait_for()
    page.fill("#id_url", "https://www.douyin.com/video/7301")
    page.get_by_test_id("platform-detected").get_by_text("Douyin").wait_for()
    page.fill("#id_published_at", local(timezone.now() - dt.timedelta(hours=3)))
    shot(page, "koc-phone-post-390")
    page.get_by_test_id("save").click()
    page.wait_for_load_state("networkidle")
    assert "Post recorded for" in page.get_by_test_id("messages").inner_text()
    assert Post.objects.get().platform == "douyin"
    page.fill("#id_url", "https://douyin.com/video/7301/")
    page.select_option("#id_creator", str(koc["ca"].pk))
    page.fill("#id_published_at", local(timezone.now() - dt.timedelta(hours=3)))
    page.get_by_test_id("save").click()
    page.wait_for_load_state("networkidle")
    assert "Already recorded" in page.get_by_test_id("field-url").inner_text()
    page.get_by_test_id("platform-detected").get_by_text("Douyin").wait_for()  # read again from the link kept
    assert Post.objects.count() == 1
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "koc-phone-post-refused-390")
    assert [e for e in errors if "400" not in e] == []  # the refused post answers 400
    ctx.close()
