from importlib import import_module
from pathlib import Path

from django.apps import AppConfig, apps
from django.utils.module_loading import module_has_submodule
from django.utils.translation import gettext_lazy as _

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout, wherever BASE_DIR points


class ScrmConfig(AppConfig):
    name = "scrm"
    verbose_name = _("Organisation")

    def ready(self) -> None:
        from scrm import checks  # noqa: F401 - registers the project's system checks


def app_modules(dotted: str, *, exclude: tuple[str, ...] = ()) -> list:
    """`<app>.<dotted>` of every installed project app that has one, in INSTALLED_APPS order: how the
    kernel finds what apps built on it offer (their API routes, their dashboard URLs) without
    importing them by name."""
    found = []
    for config in apps.get_app_configs():
        if config.name in exclude or not is_project_app(config):
            continue
        parent, _sep, leaf = f"{config.name}.{dotted}".rpartition(".")
        try:
            package = import_module(parent)
        except ModuleNotFoundError:
            continue
        if module_has_submodule(package, leaf):
            found.append(import_module(f"{parent}.{leaf}"))
    return found


def is_project_app(config: AppConfig) -> bool:
    """One of Siyu's own apps (not Django's or a library's, wherever the virtualenv lives)."""
    path = Path(config.path).resolve()
    return path.is_relative_to(PROJECT_ROOT) and "site-packages" not in path.parts
