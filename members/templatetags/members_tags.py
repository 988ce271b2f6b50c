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
