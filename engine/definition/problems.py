"""Problems (errors and warnings) found in a workflow definition, and the result of a check."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding: where (a path such as ``steps[3].config.then`` and a source line) and what."""

    path: str
    message: str
    line: int | None = None
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{text} (line {self.line})" if self.line is not None else text

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape served by the API and ``validate_workflow --format json``."""
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass
class ValidationResult:
    """Errors block publishing; warnings are advice."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
        }

    def __str__(self) -> str:
        lines = [f"error: {p}" for p in self.errors] + [f"warning: {p}" for p in self.warnings]
        return "\n".join(lines) if lines else "no problems"


class DefinitionError(ValueError):
    """A document that cannot be read as a workflow at all; ``problems`` says where and why."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word``, else an empty string."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def join_path(*parts: str | int) -> str:
    """Join path parts as ``steps[3].config.then``: ints become indexes, strings keys."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part:
            out = f"{out}.{part}" if out else part
    return out


class LineMap(dict[str, int]):
    """Source lines by path; a path without its own line takes its nearest ancestor's."""

    def line_for(self, path: str) -> int | None:
        while True:
            if path in self:
                return self[path]
            parent = _parent_path(path)
            if parent == path:
                return None
            path = parent


def _parent_path(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ("" if path else path)
