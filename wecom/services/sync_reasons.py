"""What a sync run says, stored as codes and put into words when read, in the reader's language:
why a run paused or failed, why a staff member was skipped, why a contact was not written."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

PAUSE = {
    "rate_limited": _("WeCom's call limit was reached; the run waits and resumes where it stopped."),
    "unavailable": _("WeCom could not be reached (network, timeout or busy); the run resumes where it stopped."),
}

RUN_ERRORS = {
    "credentials_rejected": _("WeCom refused the corp id or secret; check the connection settings, then start again."),
    "not_configured": _("No WeCom corp is configured."),
    "staff_list_refused": _("WeCom refused the list of staff with customer contact; check the app's permissions."),
    "gave_up_rate_limited": _("WeCom's call limit was reached too many times in a row; the run stopped."),
    "gave_up_unavailable": _("WeCom stayed unreachable after several attempts; the run stopped."),
    "stalled": _("The worker running this sync stopped several times without progress; the run stopped."),
    "cancelled": _("Cancelled; what it had written is kept. Start a new run to finish the work."),
}

FAILURES = {
    "staff_unlinked": _("This WeCom staff member is not linked to a Siyu account; link one on the sync page."),
    "bad_contact": _("WeCom answered a contact without a usable external_userid."),
    "identity_conflict": _("The contact's ids belong to different members; merge them, then sync again."),
    "member_refused": _("The member centre refused the contact's data."),
    "not_a_contact": _("WeCom says this customer is no longer the staff member's contact."),
    "permission_denied": _("WeCom refused access to this staff member's customers (permission)."),
    "invalid_request": _("WeCom refused the request."),
}


def _word(table: dict, code: str) -> str:
    return str(table[code]) if code in table else code


def pause_reason(code: str) -> str:
    return _word(PAUSE, code) if code else ""


def run_error(code: str) -> str:
    return _word(RUN_ERRORS, code) if code else ""


def failure(code: str) -> str:
    return _word(FAILURES, code) if code else ""
