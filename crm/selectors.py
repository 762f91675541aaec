"""Reads about tenants and who may see them."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Tenant, TenantMembership


def tenants_for_user(*, user) -> QuerySet[Tenant]:
    """The tenants a user may see: all for a superuser, else the ones they are a member of."""
    if not user.is_authenticated or not user.is_active:
        return Tenant.objects.none()
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user)


def tenant_ids_for_user(*, user) -> set[int]:
    return set(tenants_for_user(user=user).values_list("id", flat=True))


def tenant_roles_for_user(*, user) -> dict[int, str]:
    """tenant id → the user's ``TenantMembership.Role`` value there (empty for anonymous)."""
    if not user.is_authenticated or not user.is_active:
        return {}
    return dict(
        TenantMembership.objects.filter(user=user).values_list("tenant_id", "role").order_by()
    )
