"""Line endings of text typed in a browser: one normaliser every form and service uses.

Browsers submit a textarea's line breaks as CRLF (the HTML standard), so text typed in the
admin would be stored with ``\\r\\n`` and show up in YAML previews, exports and version diffs as
a change nobody made. Stored text uses LF only.
"""

from __future__ import annotations

from typing import Any


def lf(text: str) -> str:
    """``text`` with every CRLF and lone CR turned into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def lf_all(value: Any) -> Any:
    """``value`` with ``lf`` applied to every string inside it (dicts and lists walked)."""
    if isinstance(value, str):
        return lf(value)
    if isinstance(value, dict):
        return {key: lf_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [lf_all(item) for item in value]
    return value


class LineEndingsForm:
    """Form mixin: the bound data's line endings are LF before any field cleans it, so every
    text field of the form (declared, generated or model fields) stores LF only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        data = getattr(self, "data", None)
        if self.is_bound and any("\r" in v for v in _values(data)):  # type: ignore[attr-defined]
            copy = data.copy()
            for key in copy:
                if hasattr(copy, "setlist"):
                    copy.setlist(key, [_lf_item(v) for v in copy.getlist(key)])
                else:
                    copy[key] = _lf_item(copy[key])
            self.data = copy


def _lf_item(value: Any) -> Any:
    return lf(value) if isinstance(value, str) else value


def _values(data: Any) -> list[str]:
    if hasattr(data, "lists"):
        return [v for _, values in data.lists() for v in values if isinstance(v, str)]
    return [v for v in (data or {}).values() if isinstance(v, str)]
