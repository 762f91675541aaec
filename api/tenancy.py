"""Which tenant an API request acts in, and the caller's role there.

The tenant is chosen by the ``X-Tenant`` header or the ``tenant`` query parameter (a slug
or an id). Without either, a caller who belongs to exactly one tenant gets that one. Roles
come from ``crm.TenantMembership``; a superuser acts as owner everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm.models import Tenant, TenantMembership

from .errors import ApiError

TENANT_HEADER = "X-Tenant"
TENANT_PARAM = "tenant"

# Roles from least to most; a role may do everything the ones before it may.
ROLES = ("viewer", "editor", "admin", "owner")
VIEWER, EDITOR, ADMIN, OWNER = ROLES


def role_rank(role: str) -> int:
    return ROLES.index(role)


@dataclass(frozen=True)
class Membership:
    tenant: Tenant
    role: str


def requested_tenant(request) -> str | None:
    """The raw tenant the request names (header first), or None."""
    raw = request.headers.get(TENANT_HEADER) or request.query_params.get(TENANT_PARAM)
    return raw.strip() if raw and raw.strip() else None


def tenant_for_request(*, user, wanted: str | None) -> Membership:
    """The caller's membership for ``wanted`` (slug or id), or their only one.

    Raises ApiError: 404 ``tenant_not_found`` for a tenant they are not in (the same answer
    as one that does not exist), 400 ``tenant_required`` when they are in several and named
    none, 403 ``no_tenant`` when they are in none.
    """
    if user.is_superuser:
        tenants = Tenant.objects.all()
        rows = [(t, OWNER) for t in _pick(tenants, wanted)]
    else:
        memberships = TenantMembership.objects.filter(user=user).select_related("tenant")
        if wanted is not None:
            memberships = memberships.filter(
                tenant__in=_pick(Tenant.objects.filter(memberships__user=user), wanted)
            )
        rows = [(m.tenant, m.role) for m in memberships[:2]]
    if wanted is not None and not rows:
        raise ApiError(
            f"No tenant '{wanted}' among yours.", code="tenant_not_found", status_code=404
        )
    if not rows:
        raise ApiError("You are not a member of any tenant.", code="no_tenant", status_code=403)
    if len(rows) > 1:
        raise ApiError(
            f"You belong to several tenants: name one with the {TENANT_HEADER} header "
            f"or the '{TENANT_PARAM}' parameter (its slug or id).",
            code="tenant_required",
            details=[{"field": TENANT_PARAM, "message": "required"}],
        )
    tenant, role = rows[0]
    return Membership(tenant=tenant, role=role)


def _pick(tenants, wanted: str | None):
    if wanted is None:
        return tenants[:2]
    if wanted.isdigit():
        return tenants.filter(pk=int(wanted))[:1]
    return tenants.filter(slug=wanted)[:1]
