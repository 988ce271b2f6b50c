"""The creator page's mentor sections and the levels page's benefit edit forms, without widening the
pages' own views: `{% mentor_sections creator as m %}` and `{% benefit_edit_form benefit as form %}`."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def mentor_sections(context, creator) -> dict:
    """What a mentor shared (with the form to share another, for staff who may) and what the
    creator's mentor shared with them."""
    from koc.models import MentorTemplate
    from koc.services import rights
    from koc.views_mentor import MentorTemplateForm

    user = context["request"].user
    mentor = rights.is_mentor(creator)
    shared = list(MentorTemplate.objects.filter(mentor=creator).order_by("-created_at", "-id")[:50])
    refused = context.get("mentor_template_form")  # a share just refused: shown with its errors
    can_share = refused is not None or (mentor and rights.can_share_for(user, creator))
    return {
        "is_mentor": mentor or refused is not None,
        "shared": shared,
        "can_share": can_share,
        "form": (refused or MentorTemplateForm()) if can_share else None,
        "from_mentor": list(rights.templates_for(creator)[:50]),
    }


@register.simple_tag(takes_context=True)
def benefit_edit_form(context, benefit):
    """The bound form of the benefit whose edit was refused, else one filled from the benefit."""
    from koc import views
    from koc.views_mentor import benefit_edit_form as build

    refused = (context.get("benefit_edit_forms") or {}).get(benefit.pk)
    return refused or build(benefit, views._communities(context["request"].user))
