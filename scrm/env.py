"""Reading configuration from the environment, with one clear line when a value is wrong.

Every setting comes from here; nothing secret lives in the repository. `*_FILE` variants
(e.g. SECRET_KEY_FILE) read the value from a file, for Docker and Kubernetes secrets.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured


class SettingsError(ImproperlyConfigured):
    """A missing or malformed environment variable; the message names it."""


_MISSING = object()


def get_str(name: str, default=_MISSING) -> str:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            with open(file_path, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE: cannot read {file_path!r} ({exc.strerror})") from None
    value = os.environ.get(name)
    if value is None or value == "":
        if default is _MISSING:
            raise SettingsError(f"{name} is required but not set")
        return default
    return value


def get_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def get_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {value}")
    return value


def get_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def get_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = get_str(name, default)
    if value not in choices:
        raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def parse_database_url(url: str, *, name: str = "DATABASE_URL") -> dict:
    """postgres://user:password@host:port/dbname?sslmode=require, or ?host=/socket/dir."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "postgis"):
        raise SettingsError(
            f"{name}: expected postgres://user:password@host:5432/dbname, got scheme {parts.scheme or 'none'!r}"
        )
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise SettingsError(f"{name}: the database name is missing (postgres://user:password@host:5432/dbname)")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    try:
        port = parts.port
    except ValueError:
        raise SettingsError(f"{name}: the port is not a number") from None
    host = query.pop("host", None) or unquote(parts.hostname or "")
    port = query.pop("port", None) or port
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": dbname,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
        "OPTIONS": query,
    }


def parse_redis_url(url: str, *, name: str = "REDIS_URL") -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(f"{name}: expected redis://host:6379/0 or unix:///path/redis.sock, got {url!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise SettingsError(f"{name}: the host is missing (redis://host:6379/0)")
    return url


def celery_broker_url(redis_url: str) -> str:
    """Kombu names a Redis Unix socket redis+socket://; redis-py names it unix://."""
    if redis_url.startswith("unix://"):
        parts = urlsplit(redis_url)
        query = parse_qs(parts.query)
        db = query.get("db", ["0"])[-1]
        return f"redis+socket://{parts.path}?virtual_host={db}"
    return redis_url
