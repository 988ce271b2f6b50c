"""The audience builder in a real Chromium: rows and groups added and removed without a page load,
a live count while editing, NOT on a group, an attribute condition, save as a segment, reopen it;
the same on a phone-width screen; a store manager's segments page with a brand-wide segment."""

from __future__ import annotations

import pytest

from members.models import AttributeDefinition, Member, MemberTag, Tag, TagGroup
from members.segments import queries
from members.segments import services as segment_services
from members.segments.models import Segment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def audience(members):
    (a0, a1, a2), (b0, b1) = members
    dark = Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    for m in (a0, a1, b0):
        MemberTag.objects.create(member=m, tag=dark)
    AttributeDefinition.objects.create(code="milk_brand", label="奶粉", type="choice", choices=["A2", "B"])
    Member.objects.filter(pk=a2.pk).update(attributes={"milk_brand": "A2"})
    return dark


def login(browser, live_server, username, **context):
    ctx = browser.new_context(locale="en", **context)
    page = ctx.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return ctx, page


def appear(page, selector):
    """Wait for `selector`, then for htmx to finish settling the swap that brought it: htmx wires
    up new content only after its settle delay, and a change fired before that is lost."""
    page.wait_for_selector(selector)
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-swapping, .htmx-request')")


def settle(page):
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(350)  # the form's change trigger waits 250 ms before asking
    page.wait_for_load_state("networkidle")


def test_operator_builds_a_nested_audience_and_saves_it(browser, live_server, alice, audience, shot):
    ctx, page = login(browser, live_server, "alice", viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/members/")
    page.click("[data-testid=audience-builder] summary")
    url_before = page.url
    page.click("[data-testid='add-r']")
    appear(page, "[data-testid='filter-r.0']")
    page.select_option("[data-testid='filter-r.0']", "tags")
    appear(page, "[data-testid='value-r.0'] select")
    page.select_option("[data-testid='value-r.0'] select", str(audience.pk))
    settle(page)
    assert page.inner_text("[data-testid=preview-count]") == "3 members"
    # ANY of (tag) or a NOT group holding an attribute condition
    page.select_option("[data-testid='match-r']", "any")
    page.click("[data-testid='group-r']")
    appear(page, "[data-testid='filter-r.1.0']")
    page.select_option("[data-testid='filter-r.1.0']", "attribute")
    appear(page, "[data-testid='arg-r.1.0']")
    page.select_option("[data-testid='value-r.1.0'] select", "A2")
    settle(page)
    assert page.inner_text("[data-testid=preview-count]") == "4 members"
    page.check("#node-r-1 > .b-head input[type=checkbox]")
    settle(page)
    # dark chocolate OR NOT(milk A2): everyone but 张2 and 李1... plus 李1 has no attribute, so 4 of 5
    expected = {"any": [{"tags": {"any": [audience.pk]}},
                        {"not": {"all": [{"attribute": "milk_brand", "op": "eq", "value": "A2"}]}}]}
    assert page.inner_text("[data-testid=preview-count]") == f"{queries.count(expected, alice)} members"
    page.click("[data-testid='add-r']")
    appear(page, "[data-testid='filter-r.2']")
    page.click("[data-testid='remove-r.2']")
    page.wait_for_selector("[data-testid='filter-r.2']", state="detached")
    assert page.url == url_before  # all of it without a page load
    shot(page, "audience-builder-nested")
    page.fill("#id_name", "黑巧或非A2")
    page.click("[data-testid=save-segment]")
    page.wait_for_selector(".messages")
    segment = Segment.objects.get(name="黑巧或非A2")
    assert segment.definition == expected
    # reopened in the builder: the same rows, the same count
    page.goto(f"{live_server.url}/members/?segment={segment.pk}")
    assert page.locator("[data-testid='filter-r.1.0']").input_value() == "attribute"
    assert page.is_checked("#node-r-1 > .b-head input[type=checkbox]")
    assert page.inner_text("[data-testid=audience-count]") == f"{queries.count(expected, alice)} members"
    shot(page, "audience-builder-reopened")
    ctx.close()


def test_builder_on_a_phone_width_screen(browser, live_server, bob, audience, shot):
    ctx, page = login(browser, live_server, "bob", viewport={"width": 390, "height": 844}, is_mobile=True,
                      has_touch=True)
    page.goto(f"{live_server.url}/members/")
    page.click("[data-testid=audience-builder] summary")
    page.click("[data-testid='add-r']")
    appear(page, "[data-testid='filter-r.0']")
    page.select_option("[data-testid='filter-r.0']", "stage")
    appear(page, "[data-testid='value-r.0'] select")
    page.select_option("[data-testid='value-r.0'] select", ["aware"])
    settle(page)
    assert page.inner_text("[data-testid=preview-count]") == "3 members"  # store A only
    width = page.evaluate("document.documentElement.scrollWidth")
    row = page.locator("[data-testid='row-r.0']").bounding_box()
    assert row["x"] >= 0 and row["x"] + row["width"] <= 390 + 1, row
    shot(page, "audience-builder-phone")
    assert width <= 400 or page.locator("[data-testid='row-r.0']").is_visible()
    ctx.close()


def test_store_manager_sees_brand_wide_segments_read_only(browser, live_server, alice, bob, audience, shot):
    brand = segment_services.create_segment(actor=alice, name="全品牌黑巧", definition={"tags": {"any": [audience.pk]}})
    segment_services.create_segment(actor=bob, name="本店全部", definition={"all": []})
    ctx, page = login(browser, live_server, "bob", viewport={"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/segments/")
    row = page.locator(f"[data-testid=segment-{brand.pk}]")
    row.locator("[data-testid=store-count]").filter(has_text="2").wait_for()
    assert "read-only" in row.inner_text() and "Delete" not in row.inner_text()
    shot(page, "segments-store-manager")
    page.click(f"[data-testid=export-{brand.pk}]")
    assert "2 members of the segment" in page.inner_text("[data-testid=export-count]")
    ctx.close()
