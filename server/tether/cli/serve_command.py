"""`tether serve`: the language server over stdio."""

from __future__ import annotations

import click


@click.command("serve")
def serve() -> None:
    """Run the language server (LSP over stdio) for editors."""
    from tether.lsp.server import serve as serve_stdio

    serve_stdio()
