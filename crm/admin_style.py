"""Unfold's look for the studio's own forms (the custom admin pages and the fields a ModelForm
declares itself, which unfold's ModelAdmin does not restyle).

Unfold styles a field only when its ModelAdmin builds the widget from a model field; a field a
form declares (a kind chosen from the catalog, a rule row, a dry-run text area) or a widget set
in ``Meta.widgets`` keeps Django's bare widget: no border, no padding, no focus ring. This gives
each such widget unfold's own CSS classes (``unfold.widgets``) or unfold's widget where the
markup matters (a file input, whose script expects unfold's wrapper).
"""

from __future__ import annotations

from django import forms
from unfold import widgets as unfold

# Widgets unfold already drew carry this class; left as they are.
_UNFOLD_MARK = "border-base-200"


def _is_bare(widget: forms.Widget) -> bool:
    """Django's own widget (not unfold's, not the admin's wrappers or autocompletes)."""
    return type(widget).__module__ == "django.forms.widgets"


def _classes(widget: forms.Widget) -> list[str]:
    if isinstance(widget, forms.CheckboxInput):
        return unfold.CHECKBOX_CLASSES
    if isinstance(widget, forms.Select):  # also SelectMultiple
        return unfold.SELECT_CLASSES
    if isinstance(widget, forms.Textarea):
        return unfold.TEXTAREA_CLASSES
    return unfold.INPUT_CLASSES


def style_widget(field: forms.Field) -> None:
    """Give ``field``'s widget unfold's classes (kept: the widget's own classes, e.g.
    ``studio-yaml``); a file input becomes unfold's file widget. Hidden inputs, radio and
    checkbox groups and widgets unfold or the admin built are left alone."""
    widget = field.widget
    if not _is_bare(widget):
        return
    if isinstance(widget, forms.FileInput):
        field.widget = unfold.UnfoldAdminFileFieldWidget(attrs=widget.attrs)
        return
    if widget.is_hidden or isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
        return
    own = widget.attrs.get("class", "")
    if _UNFOLD_MARK in own:
        return
    widget.attrs["class"] = " ".join([*_classes(widget), own]).strip()


class UnfoldStyled:
    """Form mixin (put it first): every field gets unfold's look when the form is built."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            style_widget(field)


def count_of(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` with the noun in the right number, for messages people read: "1 workflow",
    "2 workflows", "0 draft versions" (``plural`` defaults to ``singular`` + "s")."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def human_duration(ms: int | None) -> str:
    """Milliseconds as people say them: "850 ms", "4.2 s", "5 min", "5 min 30 s", "2 h 5 min";
    "" for None. Rounded to what a person reads, not exact."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {sec} s" if sec else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")
