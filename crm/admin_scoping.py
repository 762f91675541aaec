"""Tenant scoping for every admin screen: staff see and pick only their tenants' rows."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import PermissionDenied

from .selectors import tenant_ids_for_user


class TenantScopedAdmin(admin.ModelAdmin):
    # The ORM path from this model to its tenant.
    tenant_lookup = "tenant"

    def _tenant_ids(self, request) -> set[int]:
        cached = getattr(request, "_studio_tenant_ids", None)
        if cached is None:
            cached = tenant_ids_for_user(user=request.user)
            request._studio_tenant_ids = cached
        return cached

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
            related = db_field.remote_field.model
            ids = self._tenant_ids(request)
            if related._meta.label == "crm.Tenant":
                field.queryset = field.queryset.filter(id__in=ids)
            elif any(f.name == "tenant" for f in related._meta.get_fields()):
                field.queryset = field.queryset.filter(tenant_id__in=ids)
            elif related._meta.label == settings.AUTH_USER_MODEL:
                field.queryset = members_of(field.queryset, ids)
            scope_raw_id_widget(field)
        return field

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
