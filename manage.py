#!/usr/bin/env python
"""Django's command-line utility. Without DATABASE_URL / REDIS_URL (outside production) the commands
that talk to the database or Redis use the embedded PostgreSQL and Redis under var/, starting them
if no other process has; the others (check, help, embedded, ...) start nothing."""

import os
import sys

# Commands that never open a database connection or reach Redis: they run without the servers.
NO_SERVERS = {
    "help",
    "version",
    "check",
    "embedded",
    "diffsettings",
    "makemessages",
    "compilemessages",
    "collectstatic",
    "findstatic",
    "startapp",
}


def needs_servers(argv: list[str]) -> bool:
    command = argv[1] if len(argv) > 1 else "help"
    if command in ("-h", "--help", "--version") or "--help" in argv[2:] or "-h" in argv[2:]:
        return False
    if command == "check":
        return any(arg.startswith("--database") for arg in argv[2:])
    return command not in NO_SERVERS


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")
    from django.core.exceptions import ImproperlyConfigured

    from scrm import embedded

    try:
        # The per-checkout secret key exists before the settings read it (they never write it).
        embedded.ensure_secret_key()
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - load settings now so a bad variable fails here, in one line
        if needs_servers(sys.argv):
            embedded.attach()
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"siyu: configuration error: {exc}\n")
        sys.exit(2)
    except embedded.EmbeddedError as exc:
        problem = f"DATABASE_URL/REDIS_URL not set and the embedded servers failed: {exc}"
        sys.stderr.write(f"siyu: configuration error: {problem}\n")
        sys.exit(2)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
