"""The VS Code extension in a real VS Code: code-server 4.139.1 (Code-OSS 1.139) with the
.vsix built from this tree, the real `tether serve` from this venv, driven through its UI
by headless Chromium (playwright-core). One editor session per module; each test asserts
one thing a user sees. Screenshots of each state land in build/editor-e2e/ (or
$TETHER_E2E_ARTIFACTS).

Where the clients cannot be installed (no root for the browser package, no registry) the
tests skip with the reason; under CI (CI=true) that is a failure instead.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.editor.vscode_e2e import harness

pytestmark = [pytest.mark.editor, pytest.mark.timeout(900)]

ARTIFACTS = Path(os.environ.get("TETHER_E2E_ARTIFACTS", harness.REPO / "build" / "editor-e2e"))

# Lines of the extension host log that are VS Code's, not ours, and expected offline:
# Microsoft-only modules code-server does not ship, and the dead extension gallery.
HARMLESS = (
    re.compile(r"vsda|vscode-regexp-languagedetection"),
    re.compile(r"127\.0\.0\.1:9\b|ECONNREFUSED"),
)


@dataclass
class Session:
    result: dict[str, Any]
    server: harness.CodeServer
    workspace: Path
    left_behind: list[tuple[int, str]]
    killed: list[int]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the VS Code end-to-end test, but: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    if not harness.CHROMIUM.exists() and os.geteuid() != 0:
        _unavailable("Debian's chromium is not installed and installing it needs root")
    try:
        clients = harness.install_clients()
    except harness.ClientsUnavailable as error:
        _unavailable(str(error))
    root = tmp_path_factory.mktemp("vscode-e2e")
    vsix = harness.build_vsix(clients, root)
    workspace = harness.make_workspace(root, sys.executable)
    with harness.code_server(clients, root, vsix) as server:
        result = harness.drive(clients, server, workspace, root, ARTIFACTS, scenario="e2e")
    yield Session(result, server, workspace, harness.processes_mentioning(str(root)), server.killed)


def check(session: Session, name: str) -> dict[str, Any]:
    found = session.result["checks"].get(name)
    assert found is not None, f"the driver did not get to {name}: {session.result['errors']}"
    assert found["ok"], f"{name} failed in the editor: {found.get('error')}"
    return found  # type: ignore[no-any-return]


def test_extension_activates_and_starts_the_server(session: Session) -> None:
    assert session.result.get("server_running_log"), session.result["errors"]
    check(session, "activation")


def test_palette_run_shows_a_notification_with_each_step(session: Session) -> None:
    seen = check(session, "run_notification")
    texts = " | ".join(seen["toast_texts"])
    # The notification appeared by itself (no click) and told each step.
    assert seen["clicks_after_start"] == 0, seen
    assert "first" in texts, texts
    assert "second" in texts, texts
    assert seen["status"].endswith("demo: succeeded"), seen["status"]


def test_status_item_keeps_the_step_through_heartbeats(session: Session) -> None:
    seen = check(session, "run_notification")
    # Once a step has shown, every text until the end names a step: with heartbeats every
    # 0.5 s and 1.5 s steps, a bare "demo" would show if a heartbeat dropped the step.
    texts = seen["status_texts"]
    first_step = next(i for i, text in enumerate(texts) if text == "demo: first")
    end = texts.index("demo: succeeded")
    while_running = texts[first_step:end]
    assert all(re.fullmatch(r"demo: (first|second)", text) for text in while_running), texts


def test_cancel_on_the_notification_cancels_the_run(session: Session) -> None:
    seen = check(session, "cancel_from_notification")
    assert seen["status"].endswith("slow: cancelled"), seen["status"]
    assert "tether resume" in seen["tooltip"], seen["tooltip"]
    assert seen["toast_visible_after"] is False


def test_a_run_started_elsewhere_is_quieter(session: Session) -> None:
    seen = check(session, "cli_run_is_quiet")
    assert seen["exit_code"] == 0, seen
    assert seen["status"].endswith("demo: succeeded"), seen
    # tether.progress.otherRuns defaults to the status bar: a spinner, no notification.
    assert seen["toasts"] == [], seen
    assert seen["spinner_seen"] is True, seen


def test_previews_leave_no_dirty_or_untitled_editor(session: Session) -> None:
    seen = check(session, "previews")
    for tabs in (seen["tabs_after_show_runs"], seen["tabs"]):
        assert tabs, "no editor tab opened"
        assert not [tab for tab in tabs if tab["dirty"]], tabs
        assert not [tab for tab in tabs if "Untitled" in tab["label"]], tabs
    labels = " | ".join(tab["label"] for tab in seen["tabs"])
    assert "Preview" in labels and "click" in labels, labels


# The last check sets a bad tether.interpreter, which errs on purpose; the Tether log is
# read up to the restart it causes.
BAD_INTERPRETER_RESTART = "Restarting the language server: tether settings changed"


def _problem_lines(path: Path) -> list[str]:
    lines = path.read_text("utf-8", errors="replace").splitlines()
    cut = next((i for i, line in enumerate(lines) if BAD_INTERPRETER_RESTART in line), len(lines))
    return [
        line
        for line in lines[:cut]
        if ("[error]" in line or "[warning]" in line)
        and not any(pattern.search(line) for pattern in HARMLESS)
    ]


def test_no_errors_or_warnings_in_the_logs(session: Session) -> None:
    check(session, "previews")
    logs = harness.log_files(session.server, "exthost*.log") + harness.log_files(
        session.server, "*Tether.log"
    )
    assert any(path.name.endswith("Tether.log") for path in logs), logs
    problems = [f"{path.name}: {line}" for path in logs for line in _problem_lines(path)]
    assert not problems, "\n".join(problems)


def test_tether_log_lines_have_one_timestamp_and_a_level(session: Session) -> None:
    (log,) = harness.log_files(session.server, "*Tether.log")
    lines = log.read_text("utf-8").splitlines()
    # The language client's own "[Info  - 10:23:45 AM]" prefix is unwrapped, not doubled.
    assert not [line for line in lines if re.search(r"\[(Trace|Debug|Info|Warn|Error)\s*- ", line)]
    server_lines = [line for line in lines if "tether.lsp" in line]
    assert server_lines, lines
    for line in server_lines:
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \[\w+\] tether\.lsp", line), line
        assert len(re.findall(r"\d\d:\d\d:\d\d", line)) == 1, line


def test_bad_interpreter_gives_the_documented_message(session: Session) -> None:
    seen = check(session, "bad_interpreter")
    assert "Tether: the language server did not start with" in seen["message"], seen
    assert "no-such-python -m tether serve (from tether.interpreter)" in seen["message"]
    assert "Check the tether.interpreter setting." in seen["message"]


def test_nothing_is_left_running(session: Session) -> None:
    assert session.left_behind == [], session.left_behind
    assert session.killed == [], f"needed SIGKILL: {session.killed}"


def test_screenshots_are_written(session: Session) -> None:
    names = {path.name for path in ARTIFACTS.glob("*.png")}
    for name in (
        "01-activated.png",
        "02-run-notification.png",
        "03-run-succeeded.png",
        "04-cancel-notification.png",
        "05-cancelled.png",
        "06-cli-run.png",
        "07-show-runs.png",
        "08-look-up-docs.png",
        "09-bad-interpreter.png",
    ):
        assert name in names, sorted(names)
