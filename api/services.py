"""Writes on API tokens: make one (the key is returned once), revoke, authenticate a key.

Called by the admin, the ``create_api_token`` command and the bearer authentication.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from .models import ApiToken

KEY_PREFIX = "ast_"
# last_used_at is written at most this often per token, so reads do not each cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    """A freshly made token and its plain key (the only time the key exists in clear)."""

    token: ApiToken
    key: str


def key_hash(key: str) -> str:
    """Hex SHA-256 of a key. Keys carry 256 random bits, so a fast hash is enough."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(
    *, user, name: str, expires_at: datetime | None = None, days: int | None = None
) -> NewToken:
    """Make a token for ``user``; ``days`` (int, >0) sets ``expires_at`` from now.

    Returns the row and the plain key, which is not stored and cannot be shown again.
    Raises ValueError for an empty name or a non-positive ``days``.
    """
    if not name or not name.strip():
        raise ValueError("a token needs a name")
    if days is not None:
        if days <= 0:
            raise ValueError("days must be a positive number")
        expires_at = timezone.now() + timedelta(days=days)
    secret = secrets.token_urlsafe(32)
    key = f"{KEY_PREFIX}{secret}"
    token = ApiToken.objects.create(
        user=user,
        name=name.strip(),
        prefix=key[: len(KEY_PREFIX) + 6],
        key_hash=key_hash(key),
        expires_at=expires_at,
    )
    return NewToken(token=token, key=key)


def api_token_assign_key(*, token: ApiToken) -> str:
    """Give an unsaved admin-made ``token`` a fresh key; returns the plain key (show it once)."""
    key = f"{KEY_PREFIX}{secrets.token_urlsafe(32)}"
    token.prefix = key[: len(KEY_PREFIX) + 6]
    token.key_hash = key_hash(key)
    return key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke ``token`` now (idempotent: an already revoked token keeps its time)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(*, key: str) -> ApiToken | None:
    """The usable token for ``key`` (user active, not revoked, not expired), else None.

    Records ``last_used_at`` (at most once a minute per token).
    """
    token = (
        ApiToken.objects.select_related("user").filter(key_hash=key_hash(key)).first()
        if key.startswith(KEY_PREFIX)
        else None
    )
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
