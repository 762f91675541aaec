"""Tenant scoping and roles for every admin screen: staff see and pick only their tenants' rows.

Roles follow ``TenantMembership.Role`` (issue 12): viewers read, editors edit drafts and test,
admins and owners publish. Superusers may do everything everywhere.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import PermissionDenied
from unfold.admin import ModelAdmin

from .models import TenantMembership
from .selectors import tenant_ids_for_user, tenant_roles_for_user

Role = TenantMembership.Role
EDIT_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.EDITOR})
PUBLISH_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def tenant_ids(request) -> set[int]:
    """The ids of the tenants ``request.user`` may see, cached on the request."""
    cached = getattr(request, "_studio_tenant_ids", None)
    if cached is None:
        cached = tenant_ids_for_user(user=request.user)
        request._studio_tenant_ids = cached
    return cached


def tenant_roles(request) -> dict[int, str]:
    """tenant id → the user's role there, cached on the request."""
    cached = getattr(request, "_studio_tenant_roles", None)
    if cached is None:
        cached = tenant_roles_for_user(user=request.user)
        request._studio_tenant_roles = cached
    return cached


def has_role(request, tenant_id: int | None, roles: frozenset[str]) -> bool:
    """True when the user holds one of ``roles`` in ``tenant_id`` (any tenant when None)."""
    if request.user.is_superuser:
        return True
    held = tenant_roles(request)
    if tenant_id is None:
        return any(role in roles for role in held.values())
    return held.get(tenant_id) in roles


class TenantScopedAdmin(ModelAdmin):
    """Base admin: querysets, FK choices and saves limited to the user's tenants and roles."""

    # The ORM path from this model to its tenant.
    tenant_lookup = "tenant"

    def _tenant_ids(self, request) -> set[int]:
        return tenant_ids(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.tenant_lookup}__in": self._tenant_ids(request)})

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and self.tenant_lookup == "tenant":
            filters.insert(0, "tenant")
        return filters

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and not request.user.is_superuser:
            field.queryset = scope_to_tenants(field.queryset, self._tenant_ids(request))
            scope_raw_id_widget(field)
        return field

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and has_role(request, None, EDIT_ROLES)

    def get_changeform_initial_data(self, request):
        """A user who edits in one tenant only finds it already chosen on an add form."""
        initial = super().get_changeform_initial_data(request)
        if self.tenant_lookup == "tenant" and "tenant" not in initial:
            editable = [t for t, role in tenant_roles(request).items() if role in EDIT_ROLES]
            if len(editable) == 1:
                initial["tenant"] = editable[0]
        return initial

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_edit(request, obj)

    def _may_edit(self, request, obj) -> bool:
        tenant_id = None if obj is None else self._object_tenant_id(obj)
        return has_role(request, tenant_id, EDIT_ROLES)

    def save_model(self, request, obj, form, change):
        tenant_id = self._object_tenant_id(obj)
        if not request.user.is_superuser and tenant_id not in self._tenant_ids(request):
            raise PermissionDenied("You are not a member of this tenant.")
        super().save_model(request, obj, form, change)

    def _object_tenant_id(self, obj) -> int | None:
        target = obj
        parts = self.tenant_lookup.split("__")
        for part in parts[:-1]:
            target = getattr(target, part)
        return getattr(target, f"{parts[-1]}_id")


def members_of(users, tenant_ids: set[int]):
    """Users who are members of one of ``tenant_ids`` (staff never see other tenants' people)."""
    return users.filter(tenant_memberships__tenant_id__in=tenant_ids).distinct()


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id input whose label comes from the field's (tenant-scoped) queryset.

    Django's widget looks the id up in the whole table, so ``add/?contact=<another tenant's
    id>`` would print that tenant's contact name next to the box.
    """

    def __init__(self, *args, queryset, **kwargs):
        super().__init__(*args, **kwargs)
        self.queryset = queryset

    def label_and_url_for_value(self, value):
        try:
            visible = self.queryset.filter(pk=value).exists()
        except (ValueError, TypeError):
            visible = False
        return super().label_and_url_for_value(value) if visible else ("", "")


def scope_raw_id_widget(field) -> None:
    """Swap a raw-id widget for one that only labels ids in ``field.queryset``."""
    widget = field.widget
    if isinstance(widget, ForeignKeyRawIdWidget) and not isinstance(widget, ScopedRawIdWidget):
        scoped = ScopedRawIdWidget(
            widget.rel, widget.admin_site, attrs=widget.attrs, using=widget.db,
            queryset=field.queryset,
        )  # fmt: skip
        field.widget = scoped


class ReadOnlyScopedAdmin(TenantScopedAdmin):
    """Runtime rows (enrollments, logs, due work): written by the engine, only read here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def scope_to_tenants(queryset, ids: set[int]):
    """``queryset`` limited to rows of tenants ``ids`` (Tenant rows themselves, or via tenant)."""
    model = queryset.model
    if model._meta.label == "crm.Tenant":
        return queryset.filter(id__in=ids)
    if any(f.name == "tenant" for f in model._meta.get_fields()):
        return queryset.filter(tenant_id__in=ids)
    if model._meta.label == settings.AUTH_USER_MODEL:
        return members_of(queryset, ids)
    return queryset


class ScopedInlineMixin:
    """Inline FK choices limited to the user's tenants (inlines have no queryset of their own)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and not request.user.is_superuser:
            field.queryset = scope_to_tenants(field.queryset, tenant_ids(request))
            scope_raw_id_widget(field)
        return field
