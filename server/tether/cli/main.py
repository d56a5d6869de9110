"""The `tether` command: a click group whose subcommands are imported only when used.

Cold start matters (chat agents call the CLI many times a minute): `tether --version`
imports no subcommand module, and nothing on a CLI path imports pygls or lsprotocol.
"""

from __future__ import annotations

import errno
import importlib
import importlib.util
import sys
import time
from typing import Any

import click

from tether import __version__

STARTED = time.monotonic()
"""When this invocation began: a --budget bounds the whole invocation, start-up included."""

# name -> "module:attribute" of the click command that implements it.
_COMMANDS: dict[str, str] = {
    "run": "tether.cli.run_command:run",
    "resume": "tether.cli.run_command:resume",
    "cancel": "tether.cli.runs_command:cancel",
    "runs": "tether.cli.runs_command:runs",
    "show": "tether.cli.runs_command:show",
    "workflows": "tether.cli.workflows_command:workflows",
    "docs": "tether.cli.docs_command:docs",
    "deps": "tether.cli.deps_command:deps",
    "prewarm": "tether.cli.prewarm_command:prewarm",
    "cache": "tether.cli.docs_command:cache",
    "init": "tether.cli.init_command:init",
    "doctor": "tether.cli.doctor_command:doctor",
    "serve": "tether.cli.serve_command:serve",
    "mcp": "tether.cli.mcp_command:mcp",
}


class LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OSError as error:
            # A read-only workspace or run directory, a refused state file: one line
            # naming what could not be done where, exit 2; never a traceback.
            from tether.cli.errors import fail

            fail(describe_os_error(error))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in _COMMANDS if self._available(name)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                return None  # not built yet in this version
            raise
        command: click.Command = getattr(module, attribute)
        return command

    @staticmethod
    def _available(name: str) -> bool:
        module_name = _COMMANDS[name].partition(":")[0]
        return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="tether", message="%(prog)s %(version)s")
def cli() -> None:
    """Workflows for AI coding agents that never hang, and docs for your dependencies."""


def describe_os_error(error: OSError) -> str:
    if error.filename is None:
        return str(error)
    target = error.filename
    if isinstance(error, PermissionError) or error.errno == errno.EROFS:
        return f"cannot write {target}: {error.strerror} (is the workspace read-only?)"
    return f"{target}: {error.strerror or error}"


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="tether", standalone_mode=True)


if __name__ == "__main__":
    sys.exit(main())
