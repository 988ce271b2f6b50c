"""Mentors' templates on the creator page and a benefit edited or switched off on the levels page:
the senior creator 张1 holds the mentor role; the junior 张0 is their mentee and sees what they share;
store A's clerk carol may not share; a bad share or edit is refused beside its field, changing nothing;
the same share sent twice within a minute keeps one template."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from koc.models import Benefit, BenefitGrant, MentorTemplate
from koc.services import rights

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def mentor(koc, ladder, alice):
    benefit = rights.save_benefit(actor=alice, level_id=ladder[2].pk, kind="mentor", name="Mentor")
    ca, ca2 = koc["ca"], koc["ca2"]
    ca.mentor = ca2
    ca.save(update_fields=["mentor"])
    assert BenefitGrant.objects.filter(creator=ca2, benefit=benefit, revoked_at__isnull=True).exists()
    return {"mentor": ca2, "mentee": ca, "benefit": benefit}


def test_a_mentor_shares_a_template_the_mentee_sees(mentor, alice):
    ca, ca2 = mentor["mentee"], mentor["mentor"]
    operator = client_for(alice)
    page = operator.get(f"/koc/creators/{ca2.pk}/").content.decode()
    assert 'data-testid="mentor-templates"' in page and 'data-testid="mentor-template-form"' in page
    data = {"title": "Unboxing in three shots", "body": "1. the box\n2. the reveal\n3. the face",
            "platform": "xiaohongshu"}
    first = operator.post(f"/koc/creators/{ca2.pk}/templates/", data)
    assert first.status_code == 302 and first["Location"] == f"/koc/creators/{ca2.pk}/"
    again = operator.post(f"/koc/creators/{ca2.pk}/templates/", data)  # a double tap
    assert again.status_code == 302
    template = MentorTemplate.objects.get()
    assert template.mentor == ca2 and template.platform == "xiaohongshu"
    mine = operator.get(f"/koc/creators/{ca2.pk}/").content.decode()
    assert f'data-testid="template-{template.pk}"' in mine
    theirs = operator.get(f"/koc/creators/{ca.pk}/").content.decode()
    from_mentor = theirs.split('data-testid="from-mentor"')[1].split("</section>")[0]
    assert f'data-testid="mentor-template-{template.pk}"' in from_mentor and "the reveal" in from_mentor
    assert 'data-testid="mentor-templates"' not in theirs  # the junior is no mentor


def test_the_same_share_after_a_minute_is_a_new_template(mentor, alice):
    ca2 = mentor["mentor"]
    first = rights.share_template(mentor=ca2, actor=alice, title="Shot list", body="a, b")
    assert rights.share_template(mentor=ca2, actor=alice, title="Shot list", body="a, b") == first
    MentorTemplate.objects.filter(pk=first.pk).update(created_at=timezone.now() - dt.timedelta(minutes=2))
    assert rights.share_template(mentor=ca2, actor=alice, title="Shot list", body="a, b") != first
    assert MentorTemplate.objects.count() == 2


def test_a_bad_share_is_refused_beside_its_field(mentor, alice):
    ca2 = mentor["mentor"]
    response = client_for(alice).post(f"/koc/creators/{ca2.pk}/templates/", {"title": "Outline", "body": "   "})
    assert response.status_code == 400 and not MentorTemplate.objects.exists()
    field = response.content.decode().split('data-testid="field-template-body"')[1].split("</div>")[0]
    assert "errorlist" in field


def test_a_creator_without_the_mentor_role_is_refused(mentor, alice):
    ca = mentor["mentee"]
    page = client_for(alice).get(f"/koc/creators/{ca.pk}/").content.decode()
    assert 'data-testid="mentor-template-form"' not in page
    response = client_for(alice).post(f"/koc/creators/{ca.pk}/templates/", {"title": "Outline", "body": "x"})
    assert response.status_code == 400 and not MentorTemplate.objects.exists()
    assert "does not hold the mentor role" in response.content.decode()


def test_a_clerk_may_not_share(mentor, carol):
    ca2 = mentor["mentor"]
    page = client_for(carol).get(f"/koc/creators/{ca2.pk}/").content.decode()
    assert 'data-testid="mentor-template-form"' not in page
    response = client_for(carol).post(f"/koc/creators/{ca2.pk}/templates/", {"title": "Outline", "body": "x"})
    assert response.status_code == 403 and not MentorTemplate.objects.exists()


def test_another_stores_creator_is_404(mentor, koc, carol, alice):
    cb = koc["cb"]
    response = client_for(carol).post(f"/koc/creators/{cb.pk}/templates/", {"title": "Outline", "body": "x"})
    assert response.status_code == 404


def test_a_benefit_is_edited_and_switched_off(mentor, alice, ladder):
    benefit, ca2 = mentor["benefit"], mentor["mentor"]
    operator = client_for(alice)
    page = operator.get("/koc/levels/").content.decode()
    assert f'data-testid="benefit-edit-form-{benefit.pk}"' in page
    prefix = f"benefit-{benefit.pk}-"
    values = {"benefit": benefit.pk, prefix + "level": ladder[2].pk, prefix + "kind": "mentor",
              prefix + "name": "Mentor of juniors", prefix + "description": "Shares templates", prefix + "active": "on"}
    saved = operator.post("/koc/levels/benefits/edit/", values)
    assert saved.status_code == 302 and saved["Location"] == "/koc/levels/"
    benefit.refresh_from_db()
    assert benefit.name == "Mentor of juniors" and benefit.active
    values.pop(prefix + "active")  # the box unticked
    off = operator.post("/koc/levels/benefits/edit/", values)
    assert off.status_code == 302
    benefit.refresh_from_db()
    assert not benefit.active and not rights.is_mentor(ca2)
    assert not BenefitGrant.objects.filter(benefit=benefit, revoked_at__isnull=True).exists()
    assert 'data-testid="mentor-template-form"' not in operator.get(f"/koc/creators/{ca2.pk}/").content.decode()


def test_a_bad_edit_is_refused_beside_its_field(mentor, alice, ladder):
    benefit = mentor["benefit"]
    prefix = f"benefit-{benefit.pk}-"
    response = client_for(alice).post("/koc/levels/benefits/edit/", {"benefit": benefit.pk,
        prefix + "level": ladder[2].pk, prefix + "kind": "early_access", prefix + "name": "Mentor",
        prefix + "active": "on"})
    assert response.status_code == 400
    benefit.refresh_from_db()
    assert benefit.kind == "mentor"
    page = response.content.decode()
    edit = page.split(f'data-testid="benefit-edit-{benefit.pk}"')[1].split("</details>")[0]
    assert " open" in page.split(f'data-testid="benefit-edit-{benefit.pk}"')[0][-20:]
    field = edit.split(f'data-testid="field-{prefix}early_days"')[1].split("</div>")[0]
    assert "errorlist" in field


def test_a_clerk_may_not_edit_a_benefit(mentor, carol, ladder):
    benefit = mentor["benefit"]
    assert f'data-testid="benefit-edit-form-{benefit.pk}"' not in client_for(carol).get("/koc/levels/").content.decode()
    prefix = f"benefit-{benefit.pk}-"
    response = client_for(carol).post("/koc/levels/benefits/edit/", {"benefit": benefit.pk,
        prefix + "level": ladder[2].pk, prefix + "kind": "mentor", prefix + "name": "Renamed"})
    assert response.status_code == 403 and Benefit.objects.get(pk=benefit.pk).name == "Mentor"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sharing_and_editing_in_chromium_at_390_px(browser, live_server, mentor, alice, shot):
    from tests.browsing import OVERFLOW, PHONE, login

    ca2, benefit = mentor["mentor"], mentor["benefit"]
    ctx, page = login(browser, live_server, "alice", **PHONE)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/koc/creators/{ca2.pk}/")
    page.get_by_test_id("mentor-templates").get_by_text("Share a template").click()
    page.get_by_test_id("mentor-template-form").locator("[name=title]").fill("Unboxing in three shots")
    page.get_by_test_id("mentor-template-form").locator("[name=body]").fill("1. the box\n2. the reveal")
    assert page.evaluate(OVERFLOW) <= 0
    page.get_by_test_id("share-template").click()
    page.wait_for_load_state("networkidle")
    template = MentorTemplate.objects.get()
    page.get_by_test_id(f"template-{template.pk}").wait_for()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "koc-mentor-templates-390")

    page.goto(f"{live_server.url}/koc/levels/")
    edit = page.get_by_test_id(f"benefit-edit-{benefit.pk}")
    edit.locator("summary").click()
    edit.locator(f"[name=benefit-{benefit.pk}-active]").uncheck()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "koc-benefit-edit-390")
    page.get_by_test_id(f"save-benefit-{benefit.pk}").click()
    page.wait_for_load_state("networkidle")
    assert not Benefit.objects.get(pk=benefit.pk).active
    assert errors == []
    ctx.close()
