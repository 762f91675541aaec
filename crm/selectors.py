"""Reads about tenants and who may see them."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Tenant


def tenants_for_user(*, user) -> QuerySet[Tenant]:
    """The tenants a user may see: all for a superuser, else the ones they are a member of."""
    if not user.is_authenticated or not user.is_active:
        return Tenant.objects.none()
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user)


def tenant_ids_for_user(*, user) -> set[int]:
    return set(tenants_for_user(user=user).values_list("id", flat=True))
