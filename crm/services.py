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
    (issue 14); only an owner adds an owner. A user already in the tenant keeps their
    membership as it is. Raises PermissionDenied naming the reason, ValueError for an unknown
    role.
    """
    _check_role(role)
    if not actor.is_superuser:
        mine = tenant_ids_for_user(user=actor)
        if tenant.pk not in mine:
            raise PermissionDenied(f"you are not a member of tenant '{tenant.slug}'")
        theirs = set(user.tenant_memberships.values_list("tenant_id", flat=True))
        if theirs - mine:
            raise PermissionDenied(f"user '{user}' belongs to a tenant you are not a member of")
    _check_owner_rule(tenant, actor, role)
    membership, _ = TenantMembership.objects.get_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    return membership


def membership_change(*, membership: TenantMembership, role: str, actor) -> TenantMembership:
    """Give a member another ``role`` on behalf of ``actor``.

    The role is read from the database (not from ``membership``, which a form may already
    have changed). Only an owner (or a superuser) grants or takes the owner role, and a tenant
    keeps at least one owner. Raises PermissionDenied naming the rule, ValueError for an
    unknown role.
    """
    _check_role(role)
    current = TenantMembership.objects.select_related("tenant", "user").get(pk=membership.pk)
    _check_member(current.tenant, actor)
    if current.role == role:
        return current
    _check_owner_rule(current.tenant, actor, current.role, role)
    if current.role == OWNER:
        _check_keeps_an_owner(current)
    current.role = role
    current.save(update_fields=["role"])
    return current


def membership_remove(*, membership: TenantMembership, actor) -> None:
    """Take a member out of their tenant on behalf of ``actor``; same rules as a change:
    only an owner removes an owner, and the last owner stays. Raises PermissionDenied."""
    current = TenantMembership.objects.select_related("tenant", "user").get(pk=membership.pk)
    _check_member(current.tenant, actor)
    _check_owner_rule(current.tenant, actor, current.role)
    if current.role == OWNER:
        _check_keeps_an_owner(current)
    current.delete()


OWNER = TenantMembership.Role.OWNER


def _check_role(role: str) -> None:
    if role not in TenantMembership.Role.values:
        roles = ", ".join(TenantMembership.Role.values)
        raise ValueError(f"unknown role '{role}'; expected one of {roles}")


def _check_member(tenant: Tenant, actor) -> None:
    if not actor.is_superuser and tenant.pk not in tenant_ids_for_user(user=actor):
        raise PermissionDenied(f"you are not a member of tenant '{tenant.slug}'")


def _check_owner_rule(tenant: Tenant, actor, *roles: str) -> None:
    """Owners are made and unmade only by owners (an admin cannot lift anyone above itself)."""
    if OWNER not in roles or actor.is_superuser:
        return
    if not TenantMembership.objects.filter(tenant=tenant, user=actor, role=OWNER).exists():
        raise PermissionDenied(
            f"only an owner of tenant '{tenant.slug}' may grant or take the owner role"
        )


def _check_keeps_an_owner(leaving: TenantMembership) -> None:
    others = TenantMembership.objects.filter(tenant_id=leaving.tenant_id, role=OWNER)
    if not others.exclude(pk=leaving.pk).exists():
        raise PermissionDenied(
            f"'{leaving.user}' is the last owner of tenant '{leaving.tenant.slug}'; "
            "make someone else owner first"
        )
