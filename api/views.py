"""The base of every tenant-scoped API view: ``self.tenant``, ``self.role``, role checks."""

from __future__ import annotations

from rest_framework import viewsets

from .errors import ApiError
from .tenancy import role_rank


class TenantViewSet(viewsets.GenericViewSet):
    """A viewset acting in ``request.tenant`` (set by api.permissions.TenantRole)."""

    tenant_scoped = True
    action_roles: dict[str, str] = {}

    @property
    def tenant(self):
        # Schema generation calls get_queryset() on a fake request with no tenant.
        if getattr(self, "swagger_fake_view", False):
            return None
        return self.request.tenant

    def require_role(self, role: str, why: str) -> None:
        """For rules that depend on the body (e.g. ``?publish=true``): 403 below ``role``."""
        if role_rank(self.request.role) < role_rank(role):
            raise ApiError(
                f"Your role in '{self.tenant.slug}' is {self.request.role}; {why} needs "
                f"{role} or higher.",
                code="permission_denied",
                status_code=403,
            )


def flag(value) -> bool:
    """A query flag: true/1/yes/on (any case) is True."""
    return str(value).strip().lower() in ("1", "true", "yes", "on")
