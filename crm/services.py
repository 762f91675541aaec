"""Writes about tenants: who belongs to which tenant."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from .models import Tenant, TenantMembership
from .selectors import tenant_ids_for_user


def membership_add(
    *, tenant: Tenant, user, actor, role: str = TenantMembership.Role.EDITOR
) -> TenantMembership:
    """Make ``user`` a member of ``tenant`` on behalf of ``actor``.

    A superuser may add anyone. Other staff must belong to ``tenant`` and may add only users
    whose every tenant is also theirs: a user of another tenant is not theirs to see or link
    (issue 14). Raises PermissionDenied naming the reason.
    """
    if not actor.is_superuser:
        mine = tenant_ids_for_user(user=actor)
        if tenant.pk not in mine:
            raise PermissionDenied(f"you are not a member of tenant '{tenant.slug}'")
        theirs = set(user.tenant_memberships.values_list("tenant_id", flat=True))
        if theirs - mine:
            raise PermissionDenied(f"user '{user}' belongs to a tenant you are not a member of")
    membership, _ = TenantMembership.objects.get_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    return membership
