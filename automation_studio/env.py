"""Small helpers that read settings from the environment (12-factor).

Values come from the environment first, then from the local development file that
``run.py`` writes on first setup (``var/local.env``, git-ignored: ``DEBUG=1`` and a generated
``SECRET_KEY``), so a fresh clone's ``manage.py`` commands run in development mode. An
explicit ``DEBUG=0`` in the environment means production: the file is ignored there.

Production values fail loudly: ``require()`` raises ImproperlyConfigured with the
variable's name instead of starting with a silently wrong default.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured
from dotenv import dotenv_values

TRUTHY = {"1", "true", "yes", "on"}
FALSY = {"0", "false", "no", "off", ""}
LOCAL_SETTINGS_NAME = "local.env"  # written by run.py (ensure_local_settings)

# Values of the local settings file; the environment always wins over them.
_local: dict[str, str] = {}


def load_local_settings(path: Path) -> bool:
    """Read ``KEY=value`` lines of the local development file (python-dotenv's syntax).

    Returns whether the file was used: not when it is missing, and not when the environment
    says ``DEBUG`` is off (production reads the environment only). Never changes os.environ.
    """
    _local.clear()
    raw_debug = os.environ.get("DEBUG")
    if raw_debug is not None and raw_debug.strip().lower() in FALSY:
        return False
    if not path.is_file():
        return False
    _local.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    return True


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return _local.get(name) if value is None else value


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    raw = _raw(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUTHY:
        return True
    if value in FALSY:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = _raw(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = _raw(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def require(name: str) -> str:
    value = _raw(name) or ""
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")
    return value


def parse_database_url(url: str) -> dict:
    """Turn ``postgres://user:pw@host/name?opt=v`` or ``sqlite:///path`` into a DATABASES entry."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute/path.db, as dj-database-url reads them
        path = unquote(parsed.path)
        name = path[1:] if path.startswith("/") else path
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name or ":memory:"}
    if scheme in {"postgres", "postgresql", "pgsql"}:
        options = dict(parse_qsl(parsed.query))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {scheme!r} is not supported (use postgres:// or sqlite:///)"
    )
