"""List filters whose choices come from the admin's tenant-scoped queryset.

Django's ``AllValuesFieldListFilter`` and ``RelatedFieldListFilter`` read the whole table, so
they would show another tenant's step ids or workflow names; these read only visible rows.
"""

from __future__ import annotations

from django.contrib import admin

# A filter sidebar is for choosing, not browsing: past this many values, search instead.
MAX_CHOICES = 200


def values_filter(field: str, title: str) -> type[admin.SimpleListFilter]:
    """A list filter over the distinct values of ``field`` among the rows the user may see."""

    class ScopedValuesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            rows = model_admin.get_queryset(request).exclude(**{field: ""})
            values = rows.order_by(field).values_list(field, flat=True).distinct()
            return [(value, value) for value in values[:MAX_CHOICES]]

        def queryset(self, request, queryset):
            value = self.value()
            return queryset if value is None else queryset.filter(**{field: value})

    ScopedValuesFilter.title = title
    ScopedValuesFilter.__name__ = f"{field.title().replace('_', '')}Filter"
    return ScopedValuesFilter


# Related-row filters offering only rows referenced by the visible (scoped) queryset.
related_filter = admin.RelatedOnlyFieldListFilter
