"""The docs index: what it finds in an installed distribution, and how it answers.

Each test installs a small distribution into a temporary site-packages the way pip lays
one out (a `.dist-info` with METADATA and RECORD, the package files beside it) and asks the
local provider, which reads it statically and ranks with SQLite FTS5.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from tether.kb.providers.local import LocalProvider

README = """\
# Gadget

Gadget talks to gadgets.

## Configuring timeouts

Every call waits at most the timeout it is given; the timeout applies to connecting and
to reading, and a timeout of None waits forever. Timeout values are seconds.

```python
client = gadget.Client(timeout=gadget.Timeout(5.0))
```

## Changelog

### 0.9

Removed `OldPool`; use this instead:

```python
pool = gadget.OldPool(size=3)
```
"""


def install(
    site: Path,
    name: str,
    version: str,
    files: dict[str, str],
    readme: str = "",
    extra_records: tuple[str, ...] = (),
) -> Path:
    """A wheel-style install of `files` (relative path -> source) into `site`."""
    site.mkdir(parents=True, exist_ok=True)
    for old in site.glob(f"{name}-*.dist-info"):
        shutil.rmtree(old)
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: The {name}.\n"
    if readme:
        metadata += "Description-Content-Type: text/markdown\n\n" + readme
    (info / "METADATA").write_text(metadata)
    for relative, source in files.items():
        path = site / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    records = [*files, *extra_records, f"{info.name}/METADATA", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{record},,\n" for record in records))
    return info


GADGET = {
    "gadget/__init__.py": '''
        """Gadgets, for everyone."""
        from ._config import Timeout
        from ._client import *
        from . import _lazy_tools

        __all__ = ["Timeout", "Client", "open_gadget", "Reader", "Writer", "CHUNK"]

        _LAZY = {"Reader": "gadget._io", "Writer": (".writers", "GadgetWriter")}


        def __getattr__(name):
            if name in _LAZY:
                import importlib
                return getattr(importlib.import_module(_LAZY[name]), name)
            if name == "CHUNK":
                from ._io import CHUNK
                return CHUNK
            raise AttributeError(name)
    ''',
    "gadget/_config.py": '''
        class Timeout:
            """Timeout configuration for every gadget call.

            Example:
                >>> Timeout(5.0, connect=1.0)
            """

            def __init__(self, timeout: float | None, *, connect: float | None = None) -> None:
                self.timeout = timeout

            def as_dict(self) -> dict[str, float | None]:
                """The timeouts by phase."""
                return {}
    ''',
    "gadget/_client.py": '''
        __all__ = ["Client", "open_gadget"]

        class _Base:
            def send(self, payload: bytes) -> None:
                """Send raw bytes to the gadget."""

        class Client(_Base):
            """A connection to one gadget."""

            def close(self) -> None:
                """Close the connection."""

        def open_gadget(address: str) -> Client:
            """Open a connection to the gadget at an address."""
            return Client()

        def helper_not_exported() -> None:
            """Not part of the API."""
    ''',
    "gadget/_io.py": '''
        CHUNK = 4096

        class Reader:
            """Read measurements from a gadget, one sample at a time."""

        class Writer:
            """Not the one the lazy map names."""
    ''',
    "gadget/writers.py": '''
        class GadgetWriter:
            """Write settings to a gadget."""
    ''',
    "gadget/_lazy_tools.py": "",
}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tmp_path / "venv" / "lib" / "python3.11" / "site-packages"


def provider_for(tmp_path: Path, site: Path) -> LocalProvider:
    return LocalProvider(tmp_path, site_dirs=[site], index_dir=tmp_path / "index")


async def ask(provider: LocalProvider, library: str, query: str, max_tokens: int = 500) -> str:
    result = await provider.answer(library, None, query, max_tokens)
    assert result is not None
    return result.content


async def test_reexported_symbols_are_shown_by_their_public_name(
    tmp_path: Path, site: Path
) -> None:
    install(site, "gadget", "1.0", GADGET, README)
    provider = provider_for(tmp_path, site)
    answer = await ask(provider, "gadget", "Timeout")
    assert answer.startswith("### `gadget.Timeout(timeout: float | None, *, connect")
    assert "Also: `gadget._config.Timeout`" in answer
    assert "`gadget.Timeout.as_dict() -> dict[str, float | None]`: The timeouts by phase." in answer
    # Re-exported through `from ._client import *` and the module's own __all__; an
    # inherited method is listed as the subclass's member.
    client = await ask(provider, "gadget", "gadget.Client")
    assert (
        client.startswith("### `gadget.Client`") and "`gadget.Client.send(payload: bytes)" in client
    )
    assert "helper_not_exported" not in await ask(provider, "gadget", "", 4000)


async def test_lazy_getattr_imports_are_public_symbols(tmp_path: Path, site: Path) -> None:
    install(site, "gadget", "1.0", GADGET, README)
    provider = provider_for(tmp_path, site)
    reader = await ask(provider, "gadget", "read measurements from a gadget")
    assert "### `gadget.Reader`" in reader.split("\n\n", 2)[1]
    # A tuple in the lazy map names the attribute: gadget.Writer is writers.GadgetWriter.
    writer = await ask(provider, "gadget", "write settings")
    assert "`gadget.Writer`" in writer and "Write settings to a gadget." in writer
    assert "Not the one the lazy map names" not in writer


async def test_plural_query_finds_the_singular_symbol_first(tmp_path: Path, site: Path) -> None:
    install(site, "gadget", "1.0", GADGET, README)
    answer = await ask(provider_for(tmp_path, site), "gadget", "timeouts")
    first_hit = answer.split("\n\n")[1]
    assert first_hit.startswith("### `gadget.Timeout(")
    # Its docstring example comes with it.
    assert ">>> Timeout(5.0, connect=1.0)" in answer.split("### ", 2)[1]


async def test_a_small_budget_still_starts_with_the_best_hit(tmp_path: Path, site: Path) -> None:
    install(site, "gadget", "1.0", GADGET, README)
    answer = await ask(provider_for(tmp_path, site), "gadget", "timeouts", max_tokens=40)
    assert len(answer) <= 40 * 4
    assert answer.split("\n\n")[1].startswith("### `gadget.Timeout(")


async def test_a_library_asked_for_by_its_import_name_is_found(tmp_path: Path, site: Path) -> None:
    """Agents ask for what they import: `gadget` is installed as the PyGadget distribution
    (RECORD only); `widgets` comes from a distribution whose top_level.txt names it."""
    install(site, "PyGadget", "3.1", GADGET, README)
    info = install(site, "widget_kit", "0.2", {"widgets/__init__.py": "def spin(): ..."})
    (info / "top_level.txt").write_text("widgets\n")
    provider = provider_for(tmp_path, site)
    result = await provider.answer("gadget", None, "timeouts", 500)
    assert result is not None and result.version == "3.1"
    assert result.content.split("\n\n")[1].startswith("### `gadget.Timeout(")
    assert await provider.installed_version("widgets") == "0.2"
    # A name two distributions provide (a namespace package) picks neither.
    install(site, "other_gadget", "1.0", {"gadget/extra.py": "X = 1"})
    fresh = provider_for(tmp_path / "fresh", site)
    assert await fresh.answer("gadget", None, "timeouts", 500) is None


async def test_a_name_taken_from_a_compiled_module_s_stub_is_a_symbol(
    tmp_path: Path, site: Path
) -> None:
    """`Engine = _engine.Engine`, the class typed in a .pyi stub beside a compiled module
    (as cryptography's `Fernet = rust_fernet.Fernet`); also through `import a.b as c`."""
    files = {
        "turbo/__init__.py": """
            from turbo._native import engine as _engine
            import turbo._native.gears as gears_module

            Engine = _engine.Engine
            Gear = gears_module.Gear
            Path = gears_module.os_path  # not a definition of this distribution: dropped
            """,
        "turbo/_native/__init__.pyi": "",
        "turbo/_native/engine.pyi": """
            class Engine:
                \"\"\"A very fast engine.\"\"\"
                def start(self, speed: int) -> None: ...
            """,
        "turbo/_native/gears.pyi": "import os\nos_path = os.path\nclass Gear: ...\n",
    }
    install(site, "turbo", "1.0", files)
    provider = provider_for(tmp_path, site)
    answer = await ask(provider, "turbo", "Engine")
    assert answer.startswith("### `turbo.Engine`  (class)")
    assert "A very fast engine." in answer and "`turbo.Engine.start(speed: int) -> None`" in answer
    assert (await ask(provider, "turbo", "Gear")).startswith("### `turbo.Gear`  (class)")
    assert "turbo.Path" not in await ask(provider, "turbo", "")


async def test_exact_symbol_answers_that_symbol_only(tmp_path: Path, site: Path) -> None:
    install(site, "gadget", "1.0", GADGET, README)
    provider = provider_for(tmp_path, site)
    for query in ("open_gadget", "gadget.open_gadget"):
        answer = await ask(provider, "gadget", query)
        assert answer.startswith("### `gadget.open_gadget(address: str) -> Client`  (function)")
        assert "Open a connection to the gadget at an address." in answer
        assert "Timeout" not in answer


async def test_nothing_matching_says_so_in_one_line_with_the_closest_names(
    tmp_path: Path, site: Path
) -> None:
    install(site, "gadget", "1.0", GADGET, README)
    # "gadget" is in every record: a match on it alone is no match for the question.
    query = "quaternion slerp for a gadget"
    answer = await ask(provider_for(tmp_path, site), "gadget", query, 4000)
    assert answer.count("\n") == 0
    assert answer.startswith(f'Nothing in gadget matches "{query}" well. Closest symbols: ')
    near = await ask(provider_for(tmp_path, site), "gadget", "open_gadgets")
    assert "Closest symbols: `gadget.open_gadget`" in near or near.startswith("Best matches")


async def test_changelogs_are_not_documentation(tmp_path: Path, site: Path) -> None:
    files = {
        **GADGET,
        "gadget/docs/guide.md": "# Guide\n\n## Pools\n\nGadgets share a pool of connections.\n",
        "gadget/docs/CHANGELOG.md": "# Gadget\n\nAdded `AncientPool` for pools.\n",
    }
    install(site, "gadget", "1.0", files, README)
    answer = await ask(provider_for(tmp_path, site), "gadget", "pool", 4000)
    assert "Gadgets share a pool of connections." in answer  # shipped docs are indexed
    assert "OldPool" not in answer and "AncientPool" not in answer
    assert "Changelog" not in answer


async def test_examples_in_the_readme_are_attached_to_the_symbols_they_use(
    tmp_path: Path, site: Path
) -> None:
    install(site, "gadget", "1.0", GADGET, README)
    answer = await ask(provider_for(tmp_path, site), "gadget", "gadget.Client", 4000)
    assert "client = gadget.Client(timeout=gadget.Timeout(5.0))" in answer


async def test_the_index_is_rebuilt_when_the_version_changes(tmp_path: Path, site: Path) -> None:
    install(site, "gadget", "1.0", GADGET, README)
    provider = provider_for(tmp_path, site)
    first = await provider.answer("gadget", None, "calibrate", 500)
    assert first is not None and first.version == "1.0" and first.meta["index_built_now"]
    assert first.content.startswith("Nothing in gadget matches")
    again = await provider.answer("gadget", None, "calibrate", 500)
    assert again is not None and not again.meta["index_built_now"]
    calibrating = {
        **GADGET,
        "gadget/calibration.py": 'def calibrate(offset: float) -> None:\n    """Calibrate."""\n',
    }
    install(site, "gadget", "2.0", calibrating, README)
    provider = provider_for(tmp_path, site)  # a new process: versions are re-read
    upgraded = await provider.answer("gadget", None, "calibrate", 500)
    assert upgraded is not None and upgraded.version == "2.0" and upgraded.meta["index_built_now"]
    assert "gadget.calibration.calibrate(offset: float) -> None" in upgraded.content
    assert len(list((tmp_path / "index").glob("pypi-gadget-*.sqlite"))) == 2


async def test_editable_install_is_indexed_from_its_source_tree(tmp_path: Path, site: Path) -> None:
    project = tmp_path / "project"
    package = project / "src" / "widget"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        'def assemble(parts: list[str]) -> str:\n    """Assemble a widget from parts."""\n'
    )
    (project / "README.md").write_text("# Widget\n\n## Assembly\n\nWidgets come in parts.\n")
    info = install(site, "widget", "0.1.0", {}, extra_records=("__editable__.widget-0.1.0.pth",))
    (site / "__editable__.widget-0.1.0.pth").write_text(f"{project / 'src'}\n")
    (info / "direct_url.json").write_text(
        json.dumps({"url": project.as_uri(), "dir_info": {"editable": True}})
    )
    provider = provider_for(tmp_path, site)
    answer = await ask(provider, "widget", "assemble a widget")
    assert "### `widget.assemble(parts: list[str]) -> str`" in answer
    # Editing the tree (same version) is seen at the next answer.
    (package / "__init__.py").write_text(
        'def disassemble(widget: str) -> list[str]:\n    """Take a widget apart."""\n'
    )
    edited = await ask(provider, "widget", "take a widget apart")
    assert "widget.disassemble(widget: str)" in edited and "widget.assemble(" not in edited


async def test_node_declarations_are_ranked_with_their_jsdoc(tmp_path: Path) -> None:
    package = tmp_path / "node_modules" / "tinyfmt"
    (package / "dist").mkdir(parents=True)
    (package / "package.json").write_text(
        json.dumps({"name": "tinyfmt", "version": "2.1.0", "types": "./dist/index.d.ts"})
    )
    (package / "README.md").write_text("# tinyfmt\n\n## Install\n\nnpm install tinyfmt\n")
    (package / "dist" / "index.d.ts").write_text("export * from './format.js';\n")
    (package / "dist" / "format.d.ts").write_text(
        "/**\n * Pad a string on the left to a given width.\n * @example\n"
        " * padStart('7', 3) // '  7'\n */\n"
        "export declare function padStart(text: string, width: number): string;\n"
        "/** Format a number of bytes for humans. */\n"
        "export declare function formatBytes(bytes: number): string;\n"
    )
    provider = LocalProvider(tmp_path, site_dirs=[], index_dir=tmp_path / "index")
    result = await provider.answer("tinyfmt", None, "human readable byte sizes", 500)
    assert result is not None and result.meta["ecosystem"] == "npm"
    first_hit = result.content.split("\n\n")[1]
    assert first_hit.startswith("### `formatBytes(bytes: number): string`")
    padded = await provider.answer("tinyfmt", None, "padStart", 500)
    assert padded is not None and "padStart('7', 3)" in padded.content


async def test_node_packages_of_a_javascript_folder_inside_the_workspace(tmp_path: Path) -> None:
    # A Python project at the root with its editor extension's packages in a subfolder.
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    app = tmp_path / "editor" / "ext"
    package = app / "node_modules" / "leftpad"
    package.mkdir(parents=True)
    (app / "package.json").write_text('{"name": "ext"}')
    (package / "package.json").write_text('{"name": "leftpad", "version": "1.3.0"}')
    (package / "README.md").write_text("# leftpad\n\n## Padding\n\nPad strings on the left.\n")
    provider = LocalProvider(tmp_path, site_dirs=[], index_dir=tmp_path / "index")
    assert await provider.installed_version("leftpad") == "1.3.0"
    assert "Pad strings on the left." in await ask(provider, "leftpad", "pad a string")


def test_a_leading_admonition_is_not_the_summary() -> None:
    from tether.kb.docindex.doc_text import docstring_summary

    docstring = '!!! abstract "Usage Documentation"\n    [JSON](json.md)\n\nValidate JSON data.'
    assert docstring_summary(docstring) == "Validate JSON data."
    assert docstring_summary(".. versionadded:: 2.0\n\nOpen it.\n\nMore.") == "Open it."
    assert docstring_summary("Only line.") == "Only line."
