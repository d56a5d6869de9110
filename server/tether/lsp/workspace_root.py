"""The folder the server works on: the project the editor's first workspace folder is in
(an editor opened on a subfolder works on the project above it, as the CLI does)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tether.lsp.feature import Feature

if TYPE_CHECKING:
    from lsprotocol import types


class WorkspaceRoot(Feature):
    def __init__(self) -> None:
        super().__init__()
        self.path = Path.cwd().resolve()
        """The server's start folder until `initialize` names the workspace."""

    def initialize(self, params: types.InitializeParams) -> None:
        self.path = root_of(params)

    def outside_cwd(self) -> Path | None:
        """The root, when a command printed for the user must name it (`--workspace`):
        None when it is the server's working folder."""
        return None if self.path == Path.cwd().resolve() else self.path


def root_of(params: types.InitializeParams) -> Path:
    from pygls.uris import to_fs_path

    from tether.project.root import find_workspace_root

    uri = None
    if params.workspace_folders:
        uri = params.workspace_folders[0].uri
    elif params.root_uri:
        uri = params.root_uri
    path = to_fs_path(uri) if uri else params.root_path
    return find_workspace_root(Path(path) if path else Path.cwd())
