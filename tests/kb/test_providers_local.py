"""The local provider over real installed distributions and hand-built environments:
docs come from metadata, README and a static outline; project code is never imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from importlib import metadata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.kb.docindex.node_source import declaration_records
from tether.kb.providers.base import (
    InvalidLibraryName,
    ProviderNotFound,
    check_library_name,
)
from tether.kb.providers.local import LocalProvider
from tether.kb.providers.readme import clean_readme
from tether.project.environment import find_site_packages, installed_versions

REPO = Path(__file__).resolve().parents[2]
VENV_SITE = REPO / ".venv" / "lib" / "python3.11" / "site-packages"


# -- the test environment's own distributions ---------------------------------------------


async def test_every_installed_distribution_yields_a_summary_or_readme(tmp_path: Path) -> None:
    provider = LocalProvider(REPO, site_dirs=[VENV_SITE], index_dir=tmp_path)
    versions = installed_versions([VENV_SITE])
    assert len(versions) >= 20
    missing: list[str] = []
    for dist in metadata.distributions(path=[str(VENV_SITE)]):
        name = dist.metadata["Name"]
        result = await provider.fetch(name, None, "", timeout=10)
        assert result is not None, name
        assert result.version == dist.version
        summary = (dist.metadata["Summary"] or "").strip()
        has_summary = bool(summary) and summary in result.content
        has_readme = "## README" in result.content
        if not (has_summary or has_readme):
            missing.append(name)
    assert missing == []


def test_no_module_of_the_distributions_is_imported() -> None:
    # In a fresh interpreter: load tether's own code first, then document everything and
    # compare sys.modules. Nothing new may belong to a documented distribution.
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from pathlib import Path
        from importlib import metadata
        from tether.kb.providers.local import LocalProvider
        from tether.project.environment import installed_versions
        import tempfile
        import tether.kb.providers.local_python, tether.kb.docindex.python_source
        import tether.kb.docindex.answer, tether.kb.docindex.node_source
        import tether.kb.providers.local_node, tether.kb.providers.readme
        site = Path({str(VENV_SITE)!r})
        names = sorted(installed_versions([site]))
        tops = set()
        for dist in metadata.distributions(path=[str(site)]):
            for file in dist.files or []:
                if file.suffix == ".py" and len(file.parts) >= 1:
                    tops.add(file.parts[0].removesuffix(".py"))
        before = set(sys.modules)
        provider = LocalProvider(Path("."), site_dirs=[site], index_dir=Path(tempfile.mkdtemp()))
        async def main():
            return [await provider.fetch(name, None, "", timeout=30) for name in names]
        results = asyncio.run(main())
        new = sorted(set(sys.modules) - before)
        leaked = sorted(m for m in new if m.split(".")[0] in tops)
        print(json.dumps({{"documented": sum(r is not None for r in results),
                          "names": len(names), "new": new, "leaked": leaked}}))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "server")},
        check=True,
    )
    report = json.loads(completed.stdout)
    assert report["documented"] == report["names"] >= 20
    assert report["leaked"] == [], report["new"]


async def test_repository_url_comes_from_project_urls() -> None:
    provider = LocalProvider(REPO, site_dirs=[VENV_SITE])
    assert await provider.repository_url("httpx") == "https://github.com/encode/httpx"
    assert await provider.repository_url("not-installed-anywhere") is None


async def test_requested_version_other_than_the_installed_one_is_not_found(tmp_path: Path) -> None:
    provider = LocalProvider(REPO, site_dirs=[VENV_SITE], index_dir=tmp_path)
    with pytest.raises(ProviderNotFound, match=r"is installed, not the requested 0\.0\.1"):
        await provider.fetch("httpx", "0.0.1", "", timeout=10)


# -- a hand-built virtualenv -----------------------------------------------------------------


def make_venv(workspace: Path, name: str = ".venv") -> Path:
    site = workspace / name / "lib" / "python3.11" / "site-packages"
    (site / "widget").mkdir(parents=True)
    (workspace / name / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (site / "widget" / "__init__.py").write_text(
        textwrap.dedent(
            '''
            """Widgets for everyone.

            More text that is not the summary.
            """
            from ._impl import Gadget, make_gadget
            __all__ = ["Widget", "make_gadget", "Gadget", "VERSION"]
            VERSION = "1.2.3"
            raise SystemExit("importing widget is forbidden in this test")

            class Widget:
                """A widget."""
                def __init__(self, size: int = 3) -> None: ...
                def spin(self, *, speed: float = 1.0) -> str:
                    """Spin the widget."""
                def _secret(self) -> None: ...

            def helper_not_exported(x): ...
            def _private(): ...
            '''
        )
    )
    (site / "widget" / "_impl.py").write_text(
        textwrap.dedent(
            '''
            class Gadget:
                """A gadget, defined privately and re-exported."""

            async def make_gadget(
                name: str, /, count: int = 1, *rest: str, **options: object
            ) -> Gadget:
                """Make a gadget."""
            '''
        )
    )
    (site / "widget" / "tools.py").write_text('"""Widget tools."""\ndef polish(w): ...\n')
    (workspace / "outside.py").write_text("def outside_secret(): ...\n")
    info = site / "widget-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        textwrap.dedent(
            """\
            Metadata-Version: 2.1
            Name: Widget
            Version: 1.2.3
            Summary: Widgets for everyone
            Project-URL: Source, https://github.com/example/widget
            Description-Content-Type: text/markdown

            # Widget [![Build](https://img.shields.io/badge/build-passing-green.svg)](https://ci)

            <p align="center"><img src="logo.png"></p>

            ## Usage

            Call `make_gadget` to make a gadget.
            """
        )
    )
    (info / "RECORD").write_text(
        "widget/__init__.py,,\nwidget/_impl.py,,\nwidget/tools.py,,\n"
        "../../../../outside.py,,\nwidget-1.2.3.dist-info/METADATA,,\n"
    )
    return site


async def test_overview_respects_all_skips_private_and_follows_reexports(tmp_path: Path) -> None:
    site = make_venv(tmp_path)
    assert find_site_packages(tmp_path) == [site.resolve()]
    provider = LocalProvider(tmp_path, index_dir=tmp_path / "index")
    assert await provider.installed_version("widget") == "1.2.3"
    result = await provider.fetch("widget", None, "", timeout=10)
    assert result is not None and result.library == "Widget" and result.version == "1.2.3"
    content = result.content
    assert content.startswith("## README > Widget > Usage\n\nCall `make_gadget` to make a gadget.")
    assert "shields.io" not in content and "<img" not in content
    api = content.split("## API\n\n", 1)[1].splitlines()
    # The package's own order (__all__), top-level names first, then submodules'.
    assert api[:3] == [
        "- `widget.Widget(size: int = 3)`: A widget.",
        "- `widget.make_gadget(name: str, /, count: int = 1, *rest: str, **options: object)"
        " -> Gadget`: Make a gadget.",
        "- `widget.Gadget`: A gadget, defined privately and re-exported.",
    ]
    assert "- `widget.tools.polish(w)`" in api
    spin = await provider.answer("widget", None, "Widget", 2000)
    assert spin is not None and "- `widget.Widget.spin(*, speed: float = 1.0) -> str`: Spin" in (
        spin.content
    )
    everything = content + spin.content
    for absent in ("helper_not_exported", "_private", "_secret", "outside_secret", "_impl`"):
        assert absent not in everything


def test_site_packages_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere"
    other_site = make_venv(other, "env")
    monkeypatch.setenv("VIRTUAL_ENV", str(other / "env"))
    workspace = tmp_path / "project"
    workspace.mkdir()
    assert find_site_packages(workspace) == [other_site.resolve()]
    own_site = make_venv(workspace, "venv")
    assert find_site_packages(workspace) == [own_site.resolve()]
    monkeypatch.delenv("VIRTUAL_ENV")
    bare = tmp_path / "bare"
    bare.mkdir()
    asked = find_site_packages(bare, sys.executable)
    assert asked and all(path.is_dir() for path in asked)
    assert find_site_packages(bare, str(tmp_path / "no-such-python")) != []  # falls back


def test_installed_versions_match_importlib() -> None:
    versions = installed_versions([VENV_SITE])
    assert versions["httpx"] == metadata.version("httpx")
    assert versions["typing-extensions"] == metadata.version("typing_extensions")


# -- node_modules ----------------------------------------------------------------------------


def make_package(
    workspace: Path, name: str, manifest: dict[str, object], files: dict[str, str]
) -> Path:
    directory = workspace / "node_modules" / name
    directory.mkdir(parents=True)
    (directory / "package.json").write_text(json.dumps(manifest))
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


async def test_node_package_docs_from_manifest_readme_and_declarations(tmp_path: Path) -> None:
    make_package(
        tmp_path,
        "@acme/rocket",
        {
            "name": "@acme/rocket",
            "version": "2.0.1",
            "description": "Rockets, typed.",
            "repository": {"type": "git", "url": "git+https://github.com/acme/rocket.git"},
            "types": "dist/index.d.ts",
        },
        {
            "README.md": (
                "# rocket\n\n[![npm](https://badge.fury.io/js/rocket.svg)](x)\n\nLaunch it.\n"
            ),
            "dist/index.d.ts": (
                "export declare function launch(target: string, speed?: number): Promise<void>;\n"
                "export interface RocketOptions { fuel: number }\n"
                "export declare class Rocket {}\n"
                "export { land as touchdown, orbit };\n"
            ),
        },
    )
    provider = LocalProvider(tmp_path, site_dirs=[], index_dir=tmp_path / "index")
    assert await provider.installed_version("@acme/rocket") == "2.0.1"
    assert await provider.repository_url("@acme/rocket") == "git+https://github.com/acme/rocket.git"
    result = await provider.fetch("@acme/rocket", None, "", timeout=10)
    assert result is not None and result.meta["ecosystem"] == "npm"
    content = result.content
    assert content.startswith("## README > rocket\n\nLaunch it.")
    assert "badge.fury.io" not in content
    assert "- `launch(target: string, speed?: number): Promise<void>`" in content
    for name in ("RocketOptions", "Rocket", "touchdown", "orbit"):
        assert f"`{name}" in content


async def test_hostile_node_paths_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.d.ts"
    secret.write_text("export declare function stolen(): void;\n")
    make_package(
        tmp_path,
        "sneaky",
        {"name": "sneaky", "version": "1.0.0", "types": "../../secret.d.ts"},
        {"README.md": "sneaky"},
    )
    outside = tmp_path / "outside-pkg"
    outside.mkdir()
    (outside / "package.json").write_text('{"name": "linked", "version": "9.9.9"}')
    (tmp_path / "node_modules" / "linked").symlink_to(outside)
    (tmp_path / "node_modules" / "broken").mkdir()
    (tmp_path / "node_modules" / "broken" / "package.json").write_text("{not json")
    provider = LocalProvider(tmp_path, site_dirs=[], index_dir=tmp_path / "index")
    result = await provider.fetch("sneaky", None, "", timeout=10)
    assert result is not None and "stolen" not in result.content
    assert await provider.fetch("linked", None, "", timeout=10) is None
    assert await provider.installed_version("linked") is None
    assert await provider.fetch("broken", None, "", timeout=10) is None


# -- names and READMEs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["requests", "typing_extensions", "zope.interface", "@types/node", "@acme/rocket", "a"]
)
def test_valid_library_names(name: str) -> None:
    assert check_library_name(f" {name} ") == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("../etc/passwd", r"'\.\.'"),
        ("a/b", "path separator"),
        ("@scope/a/b", "path separator"),
        ("a\\b", "path separator"),
        ("/etc", "path separator"),
        ("x" * 300, "300 characters"),
        ("name;rm -rf", "not a valid"),
        ("-flag", "not a valid"),
        ("na\x00me", "not a valid"),
    ],
)
def test_hostile_library_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(InvalidLibraryName, match=reason):
        check_library_name(name)


def test_rst_readme_becomes_markdown_without_badges() -> None:
    rst = textwrap.dedent(
        """\
        ========
        Gizmo
        ========

        .. image:: https://img.shields.io/pypi/v/gizmo.svg
            :target: https://pypi.org/project/gizmo

        |build| |docs|

        Gizmo does things.

        Install
        -------

        Run pip.

        .. |build| image:: https://travis-ci.org/x/gizmo.svg
        """
    )
    cleaned = clean_readme(rst, "text/x-rst")
    assert cleaned.startswith("# Gizmo")
    assert "## Install" in cleaned and "Gizmo does things." in cleaned
    assert "shields.io" not in cleaned and "travis" not in cleaned and "|build|" not in cleaned


def test_readme_is_capped_at_a_line_boundary() -> None:
    text = "\n".join(f"line {index} " + "x" * 50 for index in range(5000))
    cleaned = clean_readme(text, "text/markdown", limit=10_000)
    assert len(cleaned) < 10_100 and cleaned.endswith("[... README truncated]")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_name_is_refused_cleanly_or_safe_as_a_path(name: str) -> None:
    try:
        accepted = check_library_name(name)
    except InvalidLibraryName as error:
        assert "\n" not in str(error)
        return
    assert ".." not in accepted and "\\" not in accepted and "\x00" not in accepted
    assert accepted.count("/") <= (1 if accepted.startswith("@") else 0)
    assert not accepted.startswith("/")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000), st.sampled_from([None, "text/markdown", "text/x-rst"]))
def test_readme_cleaning_never_fails_and_respects_its_cap(text: str, kind: str | None) -> None:
    cleaned = clean_readme(text, kind, limit=500)
    assert len(cleaned) <= 500 + len("\n\n[... README truncated]")


@pytest.mark.parametrize("unit", ["<!--", "<svg ", "<svg>", "[![", "![a](", "![a](b", "[![a](b)]("])
def test_hostile_readme_markup_costs_linear_time(unit: str) -> None:
    started = time.perf_counter()
    clean_readme(unit * 100_000, "text/markdown")
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("unit", ["\n", " \n", "export ", "export {", "export function a("])
def test_hostile_declarations_cost_linear_time(unit: str) -> None:
    started = time.perf_counter()
    declaration_records("x", unit * 100_000)
    assert time.perf_counter() - started < 1.0
