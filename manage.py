#!/usr/bin/env python
"""Django's command-line utility. Without DATABASE_URL / REDIS_URL (outside production) it uses
the embedded PostgreSQL and Redis under var/, starting them if no other process has."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - load settings now so a bad variable fails here, in one line
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"siyu: configuration error: {exc}\n")
        sys.exit(2)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
