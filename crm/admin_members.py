"""The tenant page's member inline: every add, role change and removal goes through
``crm.services`` (membership_add / membership_change / membership_remove), so their rules
(tenant scoping, only owners make owners, a tenant keeps an owner) hold here as everywhere.

A refusal must show on the form, not as a 500 after the tenant was saved: ``clean()`` plays
the whole set of changes through the services in a transaction it rolls back, and reports
each refusal naming the member; ``save()`` then plays the same changes in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet

from .admin_style import UnfoldStyled
from .models import TenantMembership
from .services import membership_add, membership_change, membership_remove


class _Rehearsal(Exception):
    """Raised to roll back the trial run of ``clean()``."""


class MembershipForm(UnfoldStyled, forms.ModelForm):
    class Meta:
        model = TenantMembership
        fields = ["user", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            # A membership changes its role or goes; it never moves to another user.
            self.fields["user"].disabled = True


class MembershipFormSet(BaseInlineFormSet):
    """Inline formset whose writes are the membership services; ``actor`` is the request's user."""

    actor = None

    def _steps(self) -> Iterator[tuple[str, forms.Form, Callable[[], object]]]:
        """(who, form, write) in a safe order: grants of owner first, then other adds and changes,
        then removals — so handing the owner role over in one save never leaves none."""
        grants, others, removals = [], [], []
        for form in self.forms:
            new = form.instance.pk is None
            if new and (not form.has_changed() or self._should_delete_form(form)):
                continue
            data = getattr(form, "cleaned_data", None) or {}
            if form.instance.pk is not None and self._should_delete_form(form):
                removals.append((form, self._remove(form.instance)))
            elif form.instance.pk is None:
                if not data.get("user"):
                    continue
                step = self._add(data["user"], data["role"])
                (grants if data["role"] == TenantMembership.Role.OWNER else others).append(
                    (form, step)
                )
            elif "role" in form.changed_data:
                step = self._change(form.instance, data["role"])
                (grants if data["role"] == TenantMembership.Role.OWNER else others).append(
                    (form, step)
                )
        for form, step in [*grants, *others, *removals]:
            yield self._who(form), form, step

    def _add(self, user, role):
        return lambda: membership_add(tenant=self.instance, user=user, actor=self.actor, role=role)

    def _change(self, membership, role):
        return lambda: membership_change(membership=membership, role=role, actor=self.actor)

    def _remove(self, membership):
        return lambda: membership_remove(membership=membership, actor=self.actor)

    @staticmethod
    def _who(form) -> str:
        user = (getattr(form, "cleaned_data", None) or {}).get("user") or form.instance.user
        return str(user)

    def clean(self):
        super().clean()
        if any(self.errors) or self.instance.pk is None:
            return  # a new tenant: its members are checked when saved (superusers only)
        problems = []
        try:
            with transaction.atomic():
                for who, _form, step in self._steps():
                    try:
                        step()
                    except (PermissionDenied, ValueError) as exc:
                        problems.append(f"{who}: {exc}")
                raise _Rehearsal
        except _Rehearsal:
            pass
        if problems:
            raise ValidationError(problems)

    def save(self, commit: bool = True):
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        for _who, form, step in self._steps():
            result = step()
            if form.instance.pk is None:
                self.new_objects.append(result)
            elif self._should_delete_form(form):
                self.deleted_objects.append(form.instance)
            else:
                self.changed_objects.append((result, ["role"]))
        return [*self.new_objects, *(obj for obj, _ in self.changed_objects)]
