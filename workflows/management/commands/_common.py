"""Helpers shared by the workflow management commands (kept thin: logic is in services).

Exit codes, the same for every command (documented in docs/commands.md):
0 done (a dry-run completed or exited as designed); 1 the thing asked for failed (the
simulated run failed, validation found errors, publishing or enrolling was refused);
2 invalid input (an unreadable file, bad JSON, an unknown tenant, workflow, version or
contact; argparse's own usage errors are 2 as well); 3 done, with something to look at
(validate_workflow --strict found warnings, a dry-run ended still waiting).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import CommandError

# tqdm: the well-kept, dependency-free standard progress bar for Python command lines.
from tqdm import tqdm

from crm.models import Tenant
from engine.definition.parser import max_bytes as definition_max_bytes
from workflows.models import Workflow

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_ATTENTION = 3


def invalid_input(message: str) -> CommandError:
    """A CommandError that exits with EXIT_INVALID_INPUT (raise it)."""
    return CommandError(message, returncode=EXIT_INVALID_INPUT)


def failed(message: str) -> CommandError:
    """A CommandError that exits with EXIT_FAILED (raise it)."""
    return CommandError(message, returncode=EXIT_FAILED)


def read_file(path: str) -> str:
    """The file's text; its size is checked before reading (memory stays bounded by the
    definition limit, however big the file) and it must be UTF-8."""
    limit = definition_max_bytes()
    try:
        with Path(path).open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise invalid_input(f"{path}: {size} bytes, over the {limit}-byte limit")
            data = handle.read(limit + 1)  # a file that grows while read is still bounded
    except FileNotFoundError:
        raise invalid_input(f"{path}: no such file") from None
    except OSError as exc:  # a directory, no permission…
        raise invalid_input(f"{path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise invalid_input(f"{path}: over the {limit}-byte limit")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid_input(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None


def tenant_by_slug(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise invalid_input(f"no tenant with slug '{slug}'")
    return tenant


def workflow_by_name_or_id(tenant: Tenant, name_or_id: str) -> Workflow:
    workflows = Workflow.objects.filter(tenant=tenant)
    found = workflows.filter(name=name_or_id).first()
    if found is None and name_or_id.isdigit():
        found = workflows.filter(pk=int(name_or_id)).first()
    if found is None:
        raise invalid_input(
            f"tenant '{tenant.slug}' has no workflow named or numbered '{name_or_id}'"
        )
    return found


def free_version_flag(parser) -> None:
    """Our ``--version`` is a workflow version number: let it replace Django's version flag."""
    # argparse checks conflicts in the optionals group, which keeps its own handler.
    for container in (parser, parser._optionals):
        container.conflict_handler = "resolve"


def add_progress_arguments(parser) -> None:
    """``--progress`` / ``--no-progress``: the bar is drawn on standard error when it is a
    terminal, unless asked otherwise (a log file or a pipe gets no bar by default)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="draw a progress bar on standard error even when it is not a terminal",
    )
    group.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="never draw a progress bar",
    )


def progress_bar(command, *, progress: bool | None, total: int | None = None, unit: str, desc: str):
    """A tqdm bar writing to the command's standard error (its stream, not Django's wrapper,
    which would add a newline to every redraw); disabled unless ``progress`` is True, or None
    and standard error is a terminal. Use it as a context manager; ``update(n)`` advances it."""
    stream = getattr(command.stderr, "_out", command.stderr)
    if progress is None:
        isatty = getattr(stream, "isatty", None)
        progress = bool(isatty and isatty())
    return tqdm(
        total=total,
        unit=unit,
        desc=desc,
        file=stream,
        disable=not progress,
        dynamic_ncols=True,
        mininterval=0.2,
    )
