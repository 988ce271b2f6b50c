"""The member centre's everyday tools in a real Chromium: an incomplete audience condition is quiet
while it is picked, shows its error where it is once the members are asked for (the list and the
export refuse), and loses it when fixed; the searchable chips of multi-selects; tag management;
the profile edit; a bulk add-tag on every matching member."""

from __future__ import annotations

import pytest

from loyalty.tiers.models import TierLadder, TierLevel
from members.models import AttributeDefinition, Member, MemberTag, Tag, TagGroup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dark(members):
    (a0, a1, _a2), (b0, _b1) = members
    tag = Tag.objects.create(group=TagGroup.objects.create(name="口味偏好"), name="黑巧")
    for m in (a0, a1, b0):
        MemberTag.objects.create(member=m, tag=tag)
    Tag.objects.create(group=tag.group, name="白巧")
    return tag


@pytest.fixture
def levels(db):
    ladder, _created = TierLadder.objects.get_or_create(pk=1, defaults={"name": "Coco"})
    return [
        TierLevel.objects.create(ladder=ladder, rank=rank, name=name, threshold=rank * 1000)
        for rank, name in ((1, "Coco Xiaobai"), (2, "Coco Master"))
    ]


def login(browser, live_server, username):
    ctx = browser.new_context(locale="en", viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return ctx, page


def settled(page):
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(350)  # the builder's change trigger waits 250 ms before asking
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-swapping, .htmx-request')")


def pick_chip(page, row: str, text: str):
    """Type into a row's Tom Select and pick the option shown."""
    page.click(f"[data-testid='value-{row}'] .ts-control")
    page.keyboard.type(text)
    page.click(f".ts-dropdown .option:has-text('{text}')")
    page.keyboard.press("Escape")


def test_an_incomplete_condition_is_quiet_then_shown_where_it_is_then_gone(
    browser, live_server, alice, dark, levels, shot
):
    ctx, page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/members/")
    page.click("[data-testid=audience-builder] summary")
    page.click("[data-testid='add-r']")
    page.wait_for_selector("[data-testid='filter-r.0']")
    settled(page)
    page.select_option("[data-testid='filter-r.0']", "tier")
    page.wait_for_selector("[data-testid='value-r.0'] .ts-control")
    settled(page)
    # just picked: no red anywhere, the preview says the condition is not finished
    assert page.locator("[role=alert]").count() == 0
    assert page.is_visible("[data-testid=preview-unfinished]")
    page.click("[data-testid=show-members]")
    page.wait_for_load_state("networkidle")
    # asked for: the error sits on its row, and no one is listed
    assert page.locator("[data-testid='errors-r.0'] [role=alert]").is_visible()
    assert page.is_visible("[data-testid=audience-incomplete]")
    assert "No members match." in page.inner_text("[data-testid=member-table]")
    assert page.locator("[data-testid=bulk-bar]").count() == 0  # no bulk action on an unreadable set
    shot(page, "members-incomplete-audience")
    export_url = page.get_attribute("[data-testid=export-matching]", "href")
    # fixed: the tier is picked by name from the ladder; the row's error leaves, the count comes
    page.wait_for_selector("[data-testid='value-r.0'] .ts-control")
    pick_chip(page, "r.0", "Coco Master")
    settled(page)
    assert page.locator("[data-testid='errors-r.0'] [role=alert]").count() == 0
    assert page.is_visible("[data-testid=preview-count]")
    # the export of the incomplete list refuses too
    page.goto(f"{live_server.url}{export_url}")
    assert "not valid" in page.inner_text("main")
    ctx.close()


def test_tags_are_picked_as_searchable_chips(browser, live_server, alice, dark):
    ctx, page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/members/")
    page.click("[data-testid=audience-builder] summary")
    page.click("[data-testid='add-r']")
    page.wait_for_selector("[data-testid='filter-r.0']")
    settled(page)
    page.select_option("[data-testid='filter-r.0']", "tags")
    page.wait_for_selector("[data-testid='value-r.0'] .ts-control")
    settled(page)
    page.click("[data-testid='value-r.0'] .ts-control")
    page.keyboard.type("黑")
    page.wait_for_function("() => document.querySelectorAll('.ts-dropdown .option').length === 1")
    options = page.locator(".ts-dropdown .option")
    assert options.count() == 1 and options.inner_text() == "黑巧"  # searched, not scrolled
    options.click()
    page.keyboard.press("Escape")
    settled(page)
    chip = page.locator("[data-testid='value-r.0'] .ts-control .item")
    assert chip.count() == 1 and "黑巧" in chip.inner_text()  # what is chosen stays in sight
    assert page.inner_text("[data-testid=preview-count]") == "3 members"
    chip.locator(".remove").click()
    settled(page)
    assert page.locator("[data-testid='value-r.0'] .ts-control .item").count() == 0
    ctx.close()


def test_operator_manages_tags(browser, live_server, alice, dark):
    ctx, page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/tags/")
    assert page.inner_text(f"[data-testid=tag-count-{dark.pk}]") == "3"
    form = page.locator("[data-testid=new-group]")
    form.locator("input[name=name]").fill("方言")
    form.locator("input[name=multiple]").uncheck()
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    dialect = TagGroup.objects.get(name="方言")
    assert not dialect.multiple and page.locator(f"[data-testid=group-{dialect.pk}] [data-testid=exclusive]").count()
    form = page.locator("[data-testid=new-tag]")
    form.locator("input[name=name]").fill("粤语")
    form.locator("select[name=group]").select_option(str(dialect.pk))
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    page.click(f"[data-testid=edit-tag-{dark.pk}]")
    assert "3 members carry it" in page.inner_text("[data-testid=tag-members]")
    page.click("[data-testid=delete-tag]")
    dialog = page.locator("#confirm-dialog")
    assert "3 members lose it" in dialog.inner_text()  # the count affected, asked before anything is sent
    assert Tag.objects.filter(pk=dark.pk).exists()
    with page.expect_navigation():
        dialog.locator("button[value=ok]").click()
    page.wait_for_load_state("networkidle")
    assert not Tag.objects.filter(pk=dark.pk).exists()
    assert "deleted from 3 members" in page.inner_text(".messages")
    ctx.close()


def test_profile_edit(browser, live_server, bob, members):
    (a0, *_rest), _b = members
    AttributeDefinition.objects.create(code="milk_brand", label="奶粉", type="choice", choices=["A2", "B"])
    ctx, page = login(browser, live_server, "bob")
    page.goto(f"{live_server.url}/members/{a0.pk}/")
    page.click("[data-testid=edit-profile]")
    page.fill("input[name=name]", "张三丰")
    page.fill("input[name=birthday]", "2999-01-01")
    page.select_option("select[name=attr_milk_brand]", "A2")
    page.click("[data-testid=save-profile]")
    page.wait_for_load_state("networkidle")
    assert "between 1900 and today" in page.inner_text("[data-testid=field-birthday]")  # beside its field
    page.fill("input[name=birthday]", "1990-03-08")
    page.check("input[name=consent_marketing]")
    page.click("[data-testid=save-profile]")
    page.wait_for_load_state("networkidle")
    assert "张三丰" in page.inner_text("h1")
    a0.refresh_from_db()
    assert a0.name == "张三丰" and a0.attributes == {"milk_brand": "A2"} and str(a0.birthday) == "1990-03-08"
    ctx.close()


def test_bulk_add_a_tag_to_every_matching_member(browser, live_server, alice, members, dark):
    vip = Tag.objects.create(group=TagGroup.objects.create(name="身份"), name="VIP")
    ctx, page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/members/?q=张")
    page.wait_for_load_state("networkidle")  # the search moves into the session, then the list loads
    assert "3 members match" in page.inner_text("[data-testid=member-total]")
    page.select_option("[data-testid=bulk-tag]", str(vip.pk))
    page.click("[data-testid=bulk-all]")
    page.wait_for_load_state("networkidle")
    assert "Add the tag “VIP” to 3 members?" in page.inner_text("[data-testid=bulk-question]")
    assert not MemberTag.objects.filter(tag=vip).exists()
    page.click("[data-testid=bulk-confirm-button]")
    page.wait_for_load_state("networkidle")
    assert "added to 3 of 3 members" in page.inner_text(".messages")
    tagged = set(MemberTag.objects.filter(tag=vip).values_list("member_id", flat=True))
    assert tagged == set(Member.objects.filter(name__startswith="张").values_list("pk", flat=True))
    assert page.locator("td.chips .tag", has_text="VIP").count() == 3  # the chips on the list
    ctx.close()


def test_choosing_the_bulk_tag_keeps_the_ticked_rows_and_the_filters_still_reload_the_list(
        browser, live_server, alice, members, dark):
    """The bulk bar's own fields are not the list's filters: picking its tag (or action) must not
    reload the rows, which would drop the ticks; the search form's owner and text still do."""
    (a0, a1, _a2), _b = members
    vip = Tag.objects.create(group=TagGroup.objects.create(name="身份"), name="VIP")
    ctx, page = login(browser, live_server, "alice")
    page.goto(f"{live_server.url}/members/")
    page.wait_for_load_state("networkidle")
    list_posts = []
    page.on("request", lambda r: list_posts.append(r.url) if r.method == "POST" and "/members/" in r.url
            and "/bulk/" not in r.url else None)
    page.check(f"[data-testid=member-row-{a0.pk}] input[name=member]")
    page.check(f"[data-testid=member-row-{a1.pk}] input[name=member]")
    page.select_option("[data-testid=bulk-action]", "add_tag")
    page.select_option("[data-testid=bulk-tag]", str(vip.pk))
    page.wait_for_timeout(800)  # longer than the filters' 300 ms debounce
    page.wait_for_load_state("networkidle")
    assert list_posts == []
    assert page.is_checked(f"[data-testid=member-row-{a0.pk}] input[name=member]")
    assert page.inner_text("[data-bulk-count]") == "2"
    page.click("[data-testid=bulk-selected]")
    page.wait_for_load_state("networkidle")
    assert "Add the tag “VIP” to 2 members?" in page.inner_text("[data-testid=bulk-question]")
    page.goto(f"{live_server.url}/members/")
    page.wait_for_load_state("networkidle")
    list_posts.clear()
    page.fill("[data-testid=member-search] input[name=q]", "李")
    page.wait_for_timeout(800)
    page.wait_for_load_state("networkidle")
    assert len(list_posts) == 1
    assert "2 members match" in page.inner_text("[data-testid=member-total]")
    ctx.close()
