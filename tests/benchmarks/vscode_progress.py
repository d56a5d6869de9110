"""VS Code benchmark: palette -> first visible progress notification, and Cancel on that
notification -> `cancelled` in the status item, in a real code-server driven by headless
Chromium (the end-to-end test's harness, tests/editor/vscode_e2e/).

Run from the repository root:  .venv/bin/python tests/benchmarks/vscode_progress.py
Options: --repeats N (default 5). Prints one JSON object.

Both times are taken inside the page with performance.now(): from the Enter that submits
"Tether: Run Workflow…" (its last input box) to the notification's first appearance in
the DOM, and from the mousedown on its Cancel button to the status item's text saying
`cancelled`. Installs the clients on first use (tests/editor/vscode_e2e/install.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.editor.vscode_e2e import harness  # noqa: E402


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 1),
        "min_ms": round(min(values), 1),
        "max_ms": round(max(values), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    try:
        clients = harness.install_clients()
    except harness.ClientsUnavailable as error:
        print(json.dumps({"skipped": str(error)}))
        return 1
    with tempfile.TemporaryDirectory(prefix="tether-vscode-bench-") as temp:
        root = Path(temp)
        vsix = harness.build_vsix(clients, root)
        workspace = harness.make_workspace(root, sys.executable)
        started = time.monotonic()
        with harness.code_server(clients, root, vsix) as server:
            result = harness.drive(
                clients,
                server,
                workspace,
                root,
                root / "artifacts",
                scenario="bench",
                repeats=args.repeats,
            )
        elapsed = time.monotonic() - started
    timings: list[dict[str, Any]] = result["timings"]
    if result["errors"] or len(timings) < args.repeats:
        print(json.dumps({"errors": result["errors"], "timings": timings}))
        return 1
    report = {
        "benchmark": "vscode_progress",
        "client": "code-server 4.139.1 (Code-OSS 1.139.1), Debian chromium, playwright-core 1.65.1",
        "repeats": args.repeats,
        "palette_to_notification": summary([t["notification_ms"] for t in timings]),
        "cancel_to_cancelled_status": summary([t["cancel_ms"] for t in timings]),
        "rounds": [{key: round(value, 1) for key, value in row.items()} for row in timings],
        "session_seconds": round(elapsed, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": [round(value, 2) for value in os.getloadavg()],
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
