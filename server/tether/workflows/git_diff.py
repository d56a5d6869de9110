"""The `review` workflow's first step: what changed in the working tree, as a diff.

Tracked changes (staged and unstaged) against `base` (default HEAD), plus untracked,
non-ignored files shown whole; tether's own `.tether/` is left out. Nothing changed means
nothing to review: the step is skipped, and so are the steps after it.

Output: {diff: TEXT, files: [PATH...], stat: TEXT, truncated: bool}.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tether.engine.context import StepContext
from tether.engine.errors import StepFailed, StepSkipped
from tether.engine.threads import run_in_daemon_thread
from tether.steps.git import GitError, git

MAX_DIFF_CHARS = 60_000
MAX_UNTRACKED_FILE_BYTES = 64 * 1024
_REVISION = re.compile(r"^[\w./^~@{}-]+$")


async def working_diff(ctx: StepContext) -> dict[str, Any]:
    base = str(ctx.inputs.get("base", "HEAD")).strip() or "HEAD"
    if base.startswith("-") or not _REVISION.match(base):
        raise StepFailed(f"base: {base!r} is not a revision")
    limit = int(ctx.inputs.get("max_chars", MAX_DIFF_CHARS))
    workspace = ctx.workspace
    exclude = ":(exclude).tether"
    try:
        await git(
            ["rev-parse", "--verify", "--quiet", base], cwd=workspace, remaining=ctx.remaining
        )
        tracked = await git(
            ["diff", "--no-color", "--no-ext-diff", base, "--", ".", exclude],
            cwd=workspace,
            remaining=ctx.remaining,
        )
        stat = await git(
            ["diff", "--stat", "--no-color", base, "--", ".", exclude],
            cwd=workspace,
            remaining=ctx.remaining,
        )
        names = await git(
            ["diff", "--name-only", base, "--", ".", exclude],
            cwd=workspace,
            remaining=ctx.remaining,
        )
        untracked = await git(
            ["ls-files", "--others", "--exclude-standard", "--", ".", exclude],
            cwd=workspace,
            remaining=ctx.remaining,
        )
    except GitError as error:
        raise StepFailed(f"review needs a git repository with {base}: {error}") from None
    new_files = [line for line in untracked.splitlines() if line.strip()]
    files = [line for line in names.splitlines() if line.strip()] + new_files
    if not files:
        raise StepSkipped(f"nothing to review: no changes against {base}")
    added = await run_in_daemon_thread(_untracked_as_diff, workspace, new_files)
    diff = tracked + added
    truncated = len(diff) > limit
    if truncated:
        diff = diff[:limit] + f"\n... (diff cut at {limit} characters; see git diff)\n"
    return {"diff": diff, "files": files, "stat": stat.strip(), "truncated": truncated}


def _untracked_as_diff(workspace: Path, names: list[str]) -> str:
    parts: list[str] = []
    for name in names:
        path = workspace / name
        try:
            if path.is_symlink() or not path.is_file():
                continue
            if path.stat().st_size > MAX_UNTRACKED_FILE_BYTES:
                parts.append(f"new file {name} (too large to show)\n")
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            parts.append(f"new file {name} (binary or unreadable)\n")
            continue
        body = "".join(f"+{line}\n" for line in text.splitlines())
        parts.append(f"--- /dev/null\n+++ b/{name}\n{body}")
    return "".join(parts)
