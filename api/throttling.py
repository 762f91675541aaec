"""Throttling per API token (per user for session callers): ``STUDIO_API_THROTTLE_RATE``."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    """One bucket per token, so a leaked or runaway integration cannot starve the others.

    The rate (e.g. ``600/min``) is read per request, so a test can lower it.
    """

    scope = "api"

    def get_rate(self) -> str | None:
        return getattr(settings, "STUDIO_API_THROTTLE_RATE", "600/min") or None

    def allow_request(self, request, view) -> bool:
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
