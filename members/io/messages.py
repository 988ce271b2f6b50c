"""What an import says, stored as a code and its parameters and put into words when it is read, in
the reader's language: a row's error (`ROW`, {placeholders} filled from the stored parameters) and a
job's outcome (`JOB`, %(placeholders)s). An error or outcome stored before codes existed is a text
in the language it was written in, and is shown as it is."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from scrm.files import preview

TEXT_MAX = 1000  # an old stored text, or a parameter, is cut here: a message holds previews only

ROW = {
    "cell_too_long": gettext_lazy(
        "Column {column} holds {length} characters, more than any column accepts ({max}); the row was not read."
    ),
    "extra_cells": gettext_lazy("This row has cells beyond the last named column (from column {column} on)."),
    "formula": gettext_lazy("“{value}” starts like a spreadsheet formula (=, +, -, @); formulas are not imported."),
    "too_long": gettext_lazy("“{value}” is longer than {max} characters."),
    "phone": gettext_lazy("“{value}” is not a valid phone number."),
    "phone_letters": gettext_lazy("“{value}” contains letters; a phone number has digits only."),
    "phone_several": gettext_lazy("“{value}” holds more than one phone number; give one number per cell."),
    "gender": gettext_lazy("“{value}” is not a gender; use f (女), m (男) or u (未知)."),
    "date": gettext_lazy("“{value}” is not a date; write it as YYYY-MM-DD."),
    "birthday_range": gettext_lazy("“{value}” is not a plausible birthday."),
    "store_unknown": gettext_lazy("Unknown store code “{value}”."),
    "store_closed": gettext_lazy("Store “{value}” is closed."),
    "store_scope": gettext_lazy("You can import into your own store ({store}) only, not “{value}”."),
    "owner_unknown": gettext_lazy("Unknown staff account “{value}”."),
    "owner_inactive": gettext_lazy("“{value}” is not an active shopping guide of a store."),
    "owner_store": gettext_lazy("“{value}” works at store {owner_store}, not at the member's store {store}."),
    "choice": gettext_lazy("“{value}” is not one of: {choices}."),
    "number": gettext_lazy("“{value}” is not a number."),
    "month": gettext_lazy("“{value}” is not a month; write it as YYYY-MM."),
    "boolean": gettext_lazy("“{value}” is not yes or no (true/false, 是/否)."),
    "consent_value": gettext_lazy("“{value}” is not a consent answer; write granted or withdrawn (同意 / 撤回)."),
    "consent": gettext_lazy("Needs the member's {consent} consent first; record it on the member's profile."),
    "consent_new": gettext_lazy("A new member has given no {consent} consent yet; import this value once they have."),
    "identity_several": gettext_lazy(
        "“{value}” holds several ids; give one id per cell (one more id of this member: "
        "a row of its own with the member's phone)."
    ),
    "duplicate": gettext_lazy("“{value}” also appears in row {rows}; an identity may appear in one row only."),
    "conflict": gettext_lazy("The identities in this row belong to different members ({members}); merge them first."),
    "other_store": gettext_lazy("“{value}” belongs to a member of another store."),
    "not_live": gettext_lazy("“{value}” belongs to member #{member}, which was merged or erased."),
    "same_member": gettext_lazy("This row and row {rows} are about the same member #{member}; put them in one row."),
    "name_required": gettext_lazy("A new member needs a name."),
    "no_identity": gettext_lazy("Give a phone number or an id so the member can be recognised."),
    "tag_unknown": gettext_lazy("Unknown tag “{value}”; tags are created on the tag pages, not by import."),
    "tag_ambiguous": gettext_lazy("“{value}” is a tag of several groups; write group:tag."),
    "tag_rule": gettext_lazy("“{value}” is a rule tag; its rule adds and removes it."),
    "tag_single": gettext_lazy("Group “{value}” allows one tag per member; this row names more than one."),
}
# The consents a sensitive attribute needs, named in the reader's language ({consent} above).
CONSENT_NAMES = {"sensitive_data": gettext_lazy("sensitive data"), "guardian": gettext_lazy("guardian")}

JOB = {
    "no_rows": gettext_lazy("The file has a header but no rows."),
    "dry_run": gettext_lazy(
        "Dry run: %(rows)s rows, %(valid)s valid (%(created)s new members, %(updated)s updates), "
        "%(invalid)s with errors. Nothing was written."
    ),
    "strict_invalid": gettext_lazy(
        "%(invalid)s of %(rows)s rows have errors; nothing was imported. Correct them, "
        "or choose “import the valid rows”."
    ),
    "none_valid": gettext_lazy("No row is valid; nothing was imported."),
    "done": gettext_lazy(
        "Imported %(valid)s rows: %(created)s members created, %(updated)s updated, %(tags)s tags added."
    ),
    "done_skipped": gettext_lazy(
        "Imported %(valid)s rows: %(created)s members created, %(updated)s updated, "
        "%(tags)s tags added. %(invalid)s rows with errors were skipped; see the report."
    ),
    "header": gettext_lazy("The first row (the column names) cannot be used; nothing was imported."),
    "crashed": gettext_lazy("The import stopped on an unexpected error (%(error)s); nothing was written."),
    "statement_timeout": gettext_lazy(
        "One step of the import took longer than %(seconds)s seconds and was stopped; "
        "nothing was written. Split the file into smaller ones."
    ),
    "time_limit": gettext_lazy(
        "The import took longer than %(seconds)s seconds and was stopped; nothing was "
        "written. Split the file into smaller ones."
    ),
    "abandoned": gettext_lazy(
        "The import stopped half-way %(attempts)s times (its worker was stopped or "
        "restarted) and will not be tried again; nothing was written. Upload it again, or "
        "split it into smaller files."
    ),
    "retrying": gettext_lazy(
        "The import stopped half-way (its worker was stopped or restarted); nothing was "
        "written. It will be tried again (attempt %(next)s of %(max)s)."
    ),
    "first_load_running": gettext_lazy(
        "A first load of members was running; nothing was imported. Run the import again once it has finished."
    ),
    "concurrent": gettext_lazy(
        "Some identities of this file were added to other members while it was being "
        "imported; nothing was written. Run the import again."
    ),
}


def _text(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= TEXT_MAX else text[:TEXT_MAX] + "…"


def row_message(code: str, params: dict | None) -> str:
    """A row error's message in the active language."""
    template = ROW.get(code)
    if template is None:
        return _text(code)
    text = str(template)
    for name, value in (params or {}).items():
        if name == "consent" and isinstance(value, list):
            value = " + ".join(str(CONSENT_NAMES.get(purpose, purpose)) for purpose in value)
        elif name == "value":
            value = preview(value)
        text = text.replace("{" + name + "}", _text(value))
    return text


def error_message(error: dict) -> str:
    """A stored error as the reader reads it: put into words from its code, or its old stored text."""
    if error.get("code"):
        return row_message(error["code"], error.get("params"))
    return _text(error.get("message"))


def rendered(errors: list[dict]) -> list[dict]:
    """Stored errors with their message in the active language, every text bounded."""
    return [
        {
            "row": e.get("row"),
            "column": preview(e.get("column")),
            "column_number": e.get("column_number"),
            "value": preview(e.get("value")),
            "code": e.get("code") or "",
            "params": e.get("params") or {},
            "message": error_message(e),
        }
        for e in errors
    ]


def job_message(code: str, params: dict | None, fallback: str = "") -> str:
    template = JOB.get(code)
    if template is None:
        return _text(fallback)
    try:
        return str(template) % (params or {})
    except (KeyError, TypeError, ValueError):
        return _text(fallback) or str(template)


def plain(text: str) -> str:
    """A text in the active language for a message that has no code (a file that cannot be read)."""
    return _(text) if text else ""
