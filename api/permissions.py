"""Role checks: each view names the least role an action needs (see docs/api.md)."""

from __future__ import annotations

from rest_framework import permissions

from .errors import ApiError
from .tenancy import EDITOR, VIEWER, requested_tenant, role_rank, tenant_for_request


class TenantRole(permissions.BasePermission):
    """Resolves ``request.tenant`` / ``request.role`` and checks the view's required role.

    A view says ``action_roles = {"publish": ADMIN, …}``; unnamed actions need ``viewer``
    for reads and ``editor`` for writes.
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        membership = tenant_for_request(user=request.user, wanted=requested_tenant(request))
        request.tenant = membership.tenant
        request.role = membership.role
        needed = required_role(view, request)
        if role_rank(membership.role) < role_rank(needed):
            raise ApiError(
                f"Your role in '{membership.tenant.slug}' is {membership.role}; "
                f"this needs {needed} or higher.",
                code="permission_denied",
                status_code=403,
                details=[{"field": None, "message": f"required role: {needed}"}],
            )
        return True


def required_role(view, request) -> str:
    action = getattr(view, "action", None) or request.method.lower()
    roles = getattr(view, "action_roles", {})
    if action in roles:
        return roles[action]
    return VIEWER if request.method in permissions.SAFE_METHODS else EDITOR
