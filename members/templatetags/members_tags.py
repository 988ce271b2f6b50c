from django import template

register = template.Library()


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
