from django import template

from members.services import disclosure

register = template.Library()


def _full_identifiers(context) -> bool:
    """The disclosure rule for the page's user, decided once per request."""
    request = context.get("request")
    if request is None:
        return False
    if not hasattr(request, "_full_identifiers"):
        request._full_identifiers = disclosure.sees_full_identifiers(request.user)
    return request._full_identifiers


@register.simple_tag(takes_context=True)
def member_phone(context, e164: str) -> str:
    """A member's phone as the page's user may see it: grouped in full, or masked."""
    if not e164:
        return ""
    return phone_display(e164) if _full_identifiers(context) else disclosure.mask_identifier("phone", e164)


@register.simple_tag(takes_context=True)
def member_identifier(context, channel: str, value: str) -> str:
    """An identity's external id as the page's user may see it (phones and e-mails masked)."""
    return disclosure.shown_identifier(channel, value or "", full=_full_identifiers(context))


@register.simple_tag(takes_context=True)
def full_identifiers(context) -> bool:
    return _full_identifiers(context)


@register.filter
def phone_display(e164: str) -> str:
    """+8613800138000 -> +86 138 0013 8000 (Chinese mobile numbers in the usual 3-4-4 groups)."""
    if not e164:
        return ""
    if e164.startswith("+86") and len(e164) == 14:
        national = e164[3:]
        return f"+86 {national[:3]} {national[3:7]} {national[7:]}"
    return e164


@register.filter
def attribute_display(value) -> str:
    """Lists as 'a, b'; booleans as ✓ / ✗; everything else as text."""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


@register.filter
def column_value(member, column):
    """A member-list column's value on a row (annotated by members.queries.member_rows)."""
    return getattr(member, column.attr, None)


@register.filter
def column_colour(member, column):
    return getattr(member, f"{column.attr}_colour", None) or ""
