"""System checks that hold the project to its architecture (run by `manage.py check` in CI)."""

from __future__ import annotations

from django.apps import apps
from django.core import checks

from scrm.apps import is_project_app

_UNSET = object()


@checks.register(checks.Tags.models)
def store_scope_declared(app_configs=None, **kwargs):
    """Every model of a project app says how it is scoped: the path to its store, or None for data
    every store shares. A model that says nothing could be listed unscoped by mistake."""
    errors = []
    for config in app_configs or apps.get_app_configs():
        if not is_project_app(config):
            continue
        for model in config.get_models():
            if getattr(model, "store_scope_field", _UNSET) is _UNSET:
                errors.append(checks.Error(
                    f"{model._meta.label} has no store_scope_field",
                    hint="Name the lookup path to its store (\"store\", \"member__home_store\") or set None "
                    "for data shared by every store; see docs/adding-a-model.md.",
                    obj=model,
                    id="scrm.E001",
                ))
    return errors
