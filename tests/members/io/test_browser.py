"""An operator imports a file with mistakes in a real browser, reads the report, then exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from members.models import Member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_dry_runs_then_imports_and_exports(
    browser, live_server, alice, store_a, shot, tmp_path, settings,  # noqa: F811
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    path = tmp_path / "会员.csv"
    path.write_text("姓名,手机号,门店\n张三,13800138000,SH01\n李四,1380013800,SH01\n", encoding="utf-8")
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")

    page.goto(f"{live_server.url}/members/import/")
    page.set_input_files("input[type=file]", str(path))
    page.check("input[value=dry_run]")
    page.click("[data-testid=import-form] button[type=submit]")
    page.wait_for_selector("[data-testid=import-errors]")
    errors = page.inner_text("[data-testid=import-errors]")
    assert "3" in errors and "手机号" in errors and "“1380013800” is not a valid phone number." in errors
    shot(page, "member-import-dry-run")
    assert Member.objects.count() == 0

    page.goto(f"{live_server.url}/members/import/")
    shot(page, "member-import-page")
    page.set_input_files("input[type=file]", str(path))
    page.check("input[value=valid_rows]")
    page.click("[data-testid=import-form] button[type=submit]")
    page.wait_for_selector("[data-testid=import-message]")
    assert "1 members created" in page.inner_text("[data-testid=import-message]")
    assert Member.objects.get().name == "张三"

    page.goto(f"{live_server.url}/members/export/?q=张")
    assert "1 member" in page.inner_text("[data-testid=export-count]")
    shot(page, "member-export-form")
    with page.expect_download() as download:
        page.click("[data-testid=export-form] button[type=submit]")
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert content.splitlines()[1].split(",")[1] == "张三"
    context.close()
