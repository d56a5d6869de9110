"""How the CLI reports a problem: one line on stderr and a contract exit code."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_RESUMABLE = 3
EXIT_CANCELLED = 4
EXIT_NOTHING_RAN = 5
"""The run succeeded with every step skipped: nothing was checked (see RunState.nothing_ran)."""
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"tether: error: {message}", err=True)
    sys.exit(code)
