"""What the WeCom connector adds to the member centre's hooks and the callback registry: Siyu tagging
marks linked corp tags in WeCom; tag callbacks are pulled; add events through a channel code get
their welcome message and the code's tags."""

from __future__ import annotations


def _on_tag_event(event) -> None:
    from wecom.services import tags

    tags.apply_tag_event(event.payload)


def _on_contact_added(event) -> None:
    from wecom.services import welcome

    welcome.handle_add_event(event)


def register() -> None:
    from members import hooks
    from wecom.services import events, tags

    hooks.on_tags_changed(tags.queue_marks)
    events.register_handler("change_external_tag", None, _on_tag_event)
    events.register_handler("change_external_contact", "add_external_contact", _on_contact_added)
