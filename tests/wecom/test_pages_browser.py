"""Every WeCom page as an operator in a real Chromium, at 1280 px and on a 390 px phone, over a corp
synced from the local WeCom server: the connection, the syncs, a run (with its Cancel button), the
events, the corp tags, the channel codes and their form, the handovers with their form and a
handover's progress, and the chat-sidebar card. None may make the page scroll sideways (wide tables
scroll inside their own box), and the screenshots go to test-artifacts/."""

from __future__ import annotations

import hashlib

import pytest

from tests.browsing import OVERFLOW, PHONE, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
# Elements sticking out of the viewport on the right, except inside a box that scrolls by itself.
STRAYS = """() => {
  const width = window.innerWidth;
  const inScroller = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
    const style = getComputedStyle(p);
    if (['auto', 'scroll'].includes(style.overflowX)) return true; } return false; };
  return [...document.querySelectorAll('main *')].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > width + 1 && !inScroller(el);
  }).slice(0, 5).map((el) => el.tagName + '.' + el.className + ' ' + (el.textContent || '').trim().slice(0, 40));
}"""


@pytest.fixture
def synced(make_corp, alice, bob, carol, dave):
    """A corp whose staff are bob and carol (store A) and dave (store B), fully synced, with a run's
    failure, an active run, corp tags, a channel code per store, a handover and callback events."""
    from wecom.models import ChannelCode, EventStatus, Handover, SyncFailure, SyncKind, WecomContact
    from wecom.services import channels, events, handover, staff, sync, tags

    server = make_corp(staff=[bob.username, carol.username, dave.username], contacts_per_staff=12, shared_ratio=0.2)
    staff.refresh_staff()
    tags.sync_tags()
    done = sync.start_run(kind=SyncKind.CONTACTS, actor=alice).run
    while sync.run_step(run_id=done.pk) == "more":
        pass
    SyncFailure.objects.create(run=done, reason="identity_conflict", external_userid="wmConflictExample0001",
                               detail="unionid ozXk… belongs to member 1234, the phone to member 5678")
    channels.seed_demo(actor=alice)
    for code in ChannelCode.objects.all():
        channels.push_code(code_id=code.pk)
    handover.demo_seed()
    for n, (status, change) in enumerate([(EventStatus.DONE, "add_external_contact"),
                                          (EventStatus.FAILED, "edit_external_contact"),
                                          (EventStatus.IGNORED, "del_follow_user"),
                                          (EventStatus.PENDING, "add_external_contact")]):
        fields = {"ToUserName": server.corp.corp_id, "Event": "change_external_contact", "ChangeType": change,
                  "UserID": carol.username, "ExternalUserID": f"wmEventExample{n:04d}WithALongId",
                  "CreateTime": "1764640000", "State": "s:SH01:abcdef", "WelcomeCode": "one-time"}
        row = events.store_event(fields, raw_digest=hashlib.sha256(str(fields).encode()).hexdigest())
        type(row).objects.filter(pk=row.pk).update(status=status, error="errcode 60011: no permission"
                                                   if status == EventStatus.FAILED else "")
    active = sync.start_run(kind=SyncKind.CONTACTS_INCREMENTAL, actor=alice).run
    contact = WecomContact.objects.filter(member__isnull=False).order_by("id").first()
    return {"done": done, "active": active, "code": ChannelCode.objects.order_by("id").first(),
            "handover": Handover.objects.get(), "contact": contact}


def _pages(synced):
    return [
        ("connection", "/wecom/"),
        ("sync-list", "/wecom/sync/"),
        ("sync-run", f"/wecom/sync/{synced['done'].pk}/"),
        ("sync-run-active", f"/wecom/sync/{synced['active'].pk}/"),
        ("events", "/wecom/events/"),
        ("tags", "/wecom/tags/"),
        ("channels", "/wecom/channels/"),
        ("channel-new", "/wecom/channels/new/"),
        ("channel-edit", f"/wecom/channels/{synced['code'].pk}/"),
        ("handovers", "/wecom/handovers/"),
        ("handover-new", "/wecom/handovers/new/"),
        ("handover", f"/wecom/handovers/{synced['handover'].pk}/"),
        ("sidebar", f"/wecom/sidebar/?external_userid={synced['contact'].external_userid}"),
    ]


def test_every_wecom_page_fits_the_desktop_and_the_phone(browser, live_server, synced, shot):
    problems = []
    for context in (DESKTOP, PHONE):
        width = context["viewport"]["width"]
        ctx, page = login(browser, live_server, "alice", **context)
        for name, url in _pages(synced):
            answer = page.goto(f"{live_server.url}{url}")
            page.wait_for_load_state("networkidle")
            assert answer.status == 200, (name, answer.status)
            shot(page, f"wecom-page-{name}-{width}")
            overflow = page.evaluate(OVERFLOW)
            strays = page.evaluate(STRAYS)
            if overflow > 0 or strays:
                problems.append((name, width, overflow, strays))
        ctx.close()
    assert problems == []


def test_an_operator_cancels_a_running_sync_through_the_confirmation(browser, live_server, synced):
    from wecom.models import SyncRun

    active = synced["active"]
    ctx, page = login(browser, live_server, "alice", **PHONE)
    page.goto(f"{live_server.url}/wecom/sync/{active.pk}/")
    page.wait_for_timeout(3500)  # a poll of the run's block has come and gone: the button still works
    page.get_by_test_id("cancel-run").locator("button").click()
    dialog = page.locator("#confirm-dialog")
    assert dialog.is_visible() and "Cancel this sync?" in dialog.inner_text()
    dialog.locator("button[value=cancel]").click()  # changed their mind: nothing is sent
    assert SyncRun.objects.get(pk=active.pk).status == "queued"
    page.get_by_test_id("cancel-run").locator("button").click()
    with page.expect_navigation():  # the confirmed form posts, then the run's page comes back
        dialog.locator("button[value=ok]").click()
    page.wait_for_load_state("networkidle")
    assert "The sync is cancelled" in page.content()
    assert page.get_by_test_id("sync-run").get_attribute("data-status") == "cancelled"
    assert page.get_by_test_id("cancel-run").count() == 0
    run = SyncRun.objects.get(pk=active.pk)
    assert (run.status, run.error_code, run.error) == ("cancelled", "cancelled", "alice")
    assert page.evaluate(OVERFLOW) <= 0
    ctx.close()


def test_the_events_pager_follows_the_filters(browser, live_server, alice):
    from django.utils import timezone

    from wecom.models import CallbackEvent, EventStatus

    CallbackEvent.objects.bulk_create([
        CallbackEvent(digest=f"pager{i:04d}", event="change_external_contact", change_type="edit_external_contact",
                      status=EventStatus.FAILED if i % 2 else EventStatus.DONE, received_at=timezone.now())
        for i in range(130)
    ])
    ctx, page = login(browser, live_server, "alice", **DESKTOP)
    page.goto(f"{live_server.url}/wecom/events/")
    assert "status=" not in page.get_by_test_id("older").get_attribute("href")
    page.select_option("#id_status", "failed")  # the rows come by htmx, their pager with them
    page.wait_for_load_state("networkidle")
    older = page.get_by_test_id("older")
    assert "status=failed" in older.get_attribute("href")
    older.click()
    page.wait_for_load_state("networkidle")
    rows = page.locator("#event-rows tr[data-status]")
    assert rows.count() == 15 and set(rows.evaluate_all("rs => rs.map(r => r.dataset.status)")) == {"failed"}
    assert page.get_by_test_id("older").count() == 0 and page.get_by_test_id("newer").is_visible()
    ctx.close()
