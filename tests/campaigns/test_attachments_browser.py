"""Campaign attachments in a real Chromium: an operator writes a campaign with a link and an image
attachment on the dashboard (a wrong link is refused naming its attachment first), the campaign's
page shows both (the image served to the signed-in user), the attachments page reorders and removes
them, and the form and pages fit 1280 px and 390 px without sideways scrolling."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign, CampaignImage
from tests.browsing import DESKTOP, OVERFLOW, PHONE, login
from tests.campaigns.test_attachments import png

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _fill_rows(page, tmp_path, url):
    image = tmp_path / "spring.png"
    image.write_bytes(png(64, 48))
    page.select_option("#id_attachments-0-type", "link")
    page.fill("#id_attachments-0-title", "春季新品")
    page.fill("#id_attachments-0-url", url)
    page.fill("#id_attachments-0-description", "到店试吃")
    page.select_option("#id_attachments-1-type", "image")
    page.set_input_files("#id_attachments-1-file", str(image))


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_operator_writes_a_campaign_with_a_link_and_an_image(browser, live_server, alice, everyone, audience,
                                                                 policy, tmp_path, shot, size):
    ctx, page = login(browser, live_server, "alice", **(DESKTOP if size == "desktop" else PHONE))
    width = 1280 if size == "desktop" else 390
    page.goto(f"{live_server.url}/campaigns/new/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(OVERFLOW) <= 0
    page.fill("#id_name", "Spring tasting")
    page.select_option("#id_segment", str(everyone.pk))
    page.fill("#id_content", "Hi {name}, come and taste.")
    _fill_rows(page, tmp_path, "ftp://shop.example.com/spring")  # a browser takes it; a message cannot
    page.click("[data-testid=campaign-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Attachment 1 (link): url is not an http(s) address." in page.get_by_test_id("campaign-form").inner_text()
    assert not Campaign.objects.exists() and not CampaignImage.objects.exists()
    assert not list((tmp_path / "media").rglob("*.png"))  # the refused campaign's upload is gone too
    assert page.evaluate(OVERFLOW) <= 0

    _fill_rows(page, tmp_path, "https://shop.example.com/spring")  # a refused form keeps no file: choose it again
    shot(page, f"campaigns-attachments-form-{width}")
    page.click("[data-testid=campaign-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    campaign = Campaign.objects.get()
    image = CampaignImage.objects.get()
    assert page.url.endswith(f"/campaigns/{campaign.pk}/")
    assert campaign.attachments == [
        {"type": "link", "title": "春季新品", "url": "https://shop.example.com/spring", "description": "到店试吃",
         "picture_url": ""},
        {"type": "image", "image": image.pk},
    ]
    shown = page.get_by_test_id("campaign-attachments")
    assert "春季新品" in shown.inner_text() and "https://shop.example.com/spring" in shown.inner_text()
    assert page.get_by_test_id("attachment-1").get_attribute("data-type") == "image"
    loaded = page.evaluate("() => { const i = document.querySelector('.attachment-image'); "
                           "return i && i.complete && i.naturalWidth; }")
    assert loaded == 64  # the image is served to the signed-in user
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, f"campaigns-attachments-detail-{width}")

    # Reorder (the image first) and remove the link on the attachments page.
    page.get_by_test_id("campaign-attachments-link").click()
    page.wait_for_load_state("networkidle")
    assert page.evaluate(OVERFLOW) <= 0
    page.fill("#id_attachments-0-ORDER", "2")
    page.fill("#id_attachments-1-ORDER", "1")
    page.click("[data-testid=attachments-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    campaign.refresh_from_db()
    assert [a["type"] for a in campaign.attachments] == ["image", "link"]
    page.get_by_test_id("campaign-attachments-link").click()
    page.wait_for_load_state("networkidle")
    page.check("#id_attachments-1-DELETE")
    page.click("[data-testid=attachments-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    campaign.refresh_from_db()
    assert campaign.attachments == [{"type": "image", "image": image.pk}]
    assert page.evaluate(OVERFLOW) <= 0
    ctx.close()
