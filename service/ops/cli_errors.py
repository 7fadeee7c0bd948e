"""How the operator's commands refuse what they are given: one line on stderr and exit 2
for anything the operator can correct (an argument, a setting, a database that is not
there, a file that cannot be written), never a traceback. Exit 1 stays the verdict of a
check that failed (`ledger verify`)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, ParamSpec, TextIO, TypeVar
from uuid import UUID

import typer
from pydantic import ValidationError
from rich.console import Console

from aggregates.errors import DomainError
from service.ops.cli_database import NoLedgerDatabase
from service.ops.exports import UnableToWrite
from service.runtime.partition_layout import LayoutMismatch
from service.runtime.read_only import ReadOnly
from service.runtime.setting_names import unknown_setting
from service.runtime.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")
USAGE = 2
console = Console(stderr=True)


class CliError(Exception):
    """An argument or setting the command cannot use; its message is the whole answer."""


def fail(message: str) -> NoReturn:
    # No markup (the message may quote what the operator typed) and no wrapping: one line.
    console.print(f"error: {message}", style="red", markup=False, highlight=False,
                  soft_wrap=True)
    raise typer.Exit(USAGE)


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """The command, with what the operator can correct answered in one line, exit 2."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (CliError, NoLedgerDatabase, UnableToWrite, DomainError, LayoutMismatch,
                ReadOnly) as error:
            fail(str(error))

    return run


def read_settings() -> Settings:
    """The PORTAL_* settings, or a CliError naming each invalid one (without its value,
    which may hold a password), or naming a `PORTAL_*` variable that is no setting."""
    unknown = unknown_setting(os.environ)
    if unknown is not None:
        raise CliError(unknown)
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"PORTAL_{'_'.join(str(part) for part in e['loc']).upper()}: {e['msg']}"
            for e in error.errors())
        raise CliError(f"invalid setting: {problems}") from None


def partner_option(value: str | None) -> UUID | None:
    """The `--partner` value as an id; a CliError when it is not one."""
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise CliError(f"--partner {value!r} is not a partner id (a UUID)") from None


def open_output(path: Path) -> TextIO:
    """`path` opened for writing; a CliError naming why it cannot be."""
    try:
        return path.open("w", newline="")
    except OSError as error:
        raise CliError(f"cannot write --output {path}: {error.strerror or error}") from None
