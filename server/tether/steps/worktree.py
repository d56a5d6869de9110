"""Snapshot worktrees: the current HEAD plus uncommitted changes, in a temporary checkout.

A snapshot is built without touching the user's branch, index or files: a copy of the
index takes `git add -A` (tracked modifications, deletions, untracked non-ignored files;
`.tether/` excluded), becomes a tree and a parentless-or-HEAD-parented commit object, and
`git worktree add --detach` checks that commit out. Only unreachable objects are left in
the object store (git's gc collects them).

Worktrees live outside the workspace, so tools that scan it never see the copies:
`<tmp>/tether-worktrees-<uid>/<workspace hash>/tw-<run id>+<step id>+<random>`. The
path is predictable (pruning needs that), so another local user could create it first and
swap a snapshot for code of theirs: both folders are created 0700 and, whether new or
found, must be real folders (not symlinks) owned by this user and closed to everyone else,
inside a temp dir that others cannot rename entries of; anything else is refused. A worktree whose
run has no live owner (its process died) is stale; `prune_stale_worktrees` removes it and
lets `git worktree prune` forget it. The run id in the name is what makes that decidable.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tether.engine.errors import RunIdError
from tether.engine.platform import lock_owner
from tether.engine.runids import run_dir, validate_run_id
from tether.engine.runs import LOCK_NAME
from tether.engine.threads import run_in_daemon_thread
from tether.steps.git import GitError, git

logger = logging.getLogger(__name__)

_UID: int | None = os.getuid() if hasattr(os, "getuid") else None
"""Windows has no uids (nor shared /tmp); ownership is only checked where it exists."""

PREFIX = "tw-"
"""Every worktree tether creates has a name starting with this."""
REMOVE_TIMEOUT = 30.0
"""Seconds a removal may take; it runs after the step's own deadline may have passed."""
_SNAPSHOT_AUTHOR = {
    "GIT_AUTHOR_NAME": "tether",
    "GIT_AUTHOR_EMAIL": "tether@localhost",
    "GIT_COMMITTER_NAME": "tether",
    "GIT_COMMITTER_EMAIL": "tether@localhost",
}


class WorktreeError(Exception):
    """A snapshot that cannot be made; the message is one line naming the workspace."""


@dataclass
class LiveWorktrees:
    """The worktrees this process is using now: never pruned, whatever their run says.

    One instance is shared by every kind in a registry (see steps.registry)."""

    paths: set[Path] = field(default_factory=set)


def worktree_root(workspace: Path) -> Path:
    """The folder holding this workspace's snapshot worktrees."""
    digest = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:12]
    owner = _UID if _UID is not None else "user"
    return Path(tempfile.gettempdir()) / f"tether-worktrees-{owner}" / digest


def run_id_of(name: str) -> str | None:
    """The run id inside a worktree's (or its index file's) name, if it is one of ours."""
    if not name.startswith(PREFIX) or "+" not in name:
        return None
    return name[len(PREFIX) :].split("+", 1)[0]


@dataclass
class Snapshot:
    """One snapshot worktree; `workspace` is where the step should run."""

    path: Path
    """The worktree's root (the repository's top level, checked out)."""
    workspace: Path
    """The step's workspace inside it (differs from `path` when the workspace is a
    subfolder of the repository)."""
    toplevel: Path
    """The user's repository top level."""
    commit: str
    """The snapshot commit checked out."""
    _removal: asyncio.Future[None] | None = field(default=None, repr=False)

    async def remove(self) -> None:
        """Remove the worktree; safe to call from several exit paths at once."""
        if self._removal is None:
            self._removal = asyncio.ensure_future(self._remove())
        await asyncio.shield(self._removal)

    async def _remove(self) -> None:
        def no_deadline() -> float:
            return REMOVE_TIMEOUT

        try:
            await git(
                ["worktree", "remove", "--force", "--force", str(self.path)],
                cwd=self.toplevel,
                remaining=no_deadline,
            )
        except GitError as error:
            logger.warning("removing worktree %s: %s; deleting the folder", self.path, error)
        await run_in_daemon_thread(shutil.rmtree, self.path, True)
        _unlink_quietly(_index_path(self.path))
        try:
            await git(["worktree", "prune"], cwd=self.toplevel, remaining=no_deadline)
        except GitError as error:
            logger.warning("git worktree prune after removing %s: %s", self.path, error)


@contextlib.asynccontextmanager
async def snapshot_worktree(
    workspace: Path,
    *,
    run_id: str,
    step_id: str,
    remaining: Callable[[], float],
    live: LiveWorktrees,
    on_cleanup: Callable[[Callable[[], object]], None] | None = None,
) -> AsyncIterator[Snapshot]:
    """A worktree of HEAD plus uncommitted changes, removed on every way out.

    Stale worktrees of dead runs are pruned first. `on_cleanup` (a step's ctx.on_cleanup)
    also gets the removal, for the case where the step is abandoned mid-way and this
    context manager never exits.
    """
    workspace = await run_in_daemon_thread(workspace.resolve)
    toplevel = await _toplevel(workspace, remaining)
    await prune_stale_worktrees(workspace, current_run=run_id, live=live, remaining=remaining)
    root = worktree_root(workspace)
    name = f"{PREFIX}{run_id}+{step_id}+{secrets.token_hex(4)}"
    path = root / name
    live.paths.add(path)
    snapshot: Snapshot | None = None
    try:
        await run_in_daemon_thread(_make_root, root)
        commit = await _snapshot_commit(workspace, toplevel, path, remaining)
        snapshot = Snapshot(path, path / workspace.relative_to(toplevel), toplevel, commit)
        if on_cleanup is not None:
            on_cleanup(snapshot.remove)
        try:
            await git(
                ["worktree", "add", "--detach", str(path), commit],
                cwd=toplevel,
                remaining=remaining,
            )
        except GitError as error:
            raise WorktreeError(
                f"{workspace}: cannot create a snapshot worktree: {error}"
            ) from None
        yield snapshot
    finally:
        try:
            if snapshot is not None:
                await snapshot.remove()
            else:
                _unlink_quietly(_index_path(path))
        finally:
            live.paths.discard(path)


async def _toplevel(workspace: Path, remaining: Callable[[], float]) -> Path:
    try:
        text = await git(["rev-parse", "--show-toplevel"], cwd=workspace, remaining=remaining)
    except GitError as error:
        raise WorktreeError(
            f'isolation = "worktree" needs a git repository; {workspace} is not in one ({error})'
        ) from None
    return await run_in_daemon_thread(Path(text.strip()).resolve)


async def _snapshot_commit(
    workspace: Path, toplevel: Path, path: Path, remaining: Callable[[], float]
) -> str:
    """A commit object holding the working tree as `git add -A` sees it; HEAD untouched."""
    index = _index_path(path)
    try:
        real_index = Path(
            (
                await git(
                    ["rev-parse", "--path-format=absolute", "--git-path", "index"],
                    cwd=toplevel,
                    remaining=remaining,
                )
            ).strip()
        )
        # Starting from a copy of the real index keeps git's stat cache: only changed
        # files are hashed again.
        await run_in_daemon_thread(_copy_if_present, real_index, index)
        env = {"GIT_INDEX_FILE": str(index), **_SNAPSHOT_AUTHOR}
        tether_dir = (workspace / ".tether").relative_to(toplevel).as_posix()
        await git(["add", "-A"], cwd=toplevel, remaining=remaining, env=env)
        # Not an exclude pathspec on `add`: git refuses that when .tether is ignored.
        await git(
            ["rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", f":(top){tether_dir}"],
            cwd=toplevel,
            remaining=remaining,
            env=env,
        )
        tree = (await git(["write-tree"], cwd=toplevel, remaining=remaining, env=env)).strip()
        parents: list[str] = []
        try:
            head = await git(
                ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
                cwd=toplevel,
                remaining=remaining,
            )
            parents = ["-p", head.strip()]
        except GitError:
            pass  # a repository without commits yet: the snapshot has no parent
        commit = await git(
            ["commit-tree", tree, *parents, "-m", "tether snapshot"],
            cwd=toplevel,
            remaining=remaining,
            env=env,
        )
        return commit.strip()
    except GitError as error:
        raise WorktreeError(f"{workspace}: cannot snapshot the working tree: {error}") from None
    finally:
        _unlink_quietly(index)


async def prune_stale_worktrees(
    workspace: Path,
    *,
    current_run: str | None = None,
    live: LiveWorktrees | None = None,
    remaining: Callable[[], float] = lambda: REMOVE_TIMEOUT,
) -> list[Path]:
    """Remove snapshot worktrees nobody uses any more; returns the folders removed.

    Stale: the run named in the folder has no live owner, or it is `current_run` (which
    this process now owns) and the folder is not in `live`. Then `git worktree prune`
    forgets the registrations whose folders are gone. Call it on a run's start or resume.
    """
    workspace = await run_in_daemon_thread(workspace.resolve)
    root = worktree_root(workspace)
    in_use = live.paths if live is not None else set()
    stale = await run_in_daemon_thread(_stale_entries, root, workspace, current_run, in_use)
    for entry in stale:
        logger.info("removing stale worktree %s", entry)
        await run_in_daemon_thread(_remove_entry, entry)
    if stale:
        try:
            await git(["worktree", "prune"], cwd=workspace, remaining=remaining)
        except GitError as error:
            logger.warning("git worktree prune in %s: %s", workspace, error)
    return stale


def _stale_entries(
    root: Path, workspace: Path, current_run: str | None, in_use: set[Path]
) -> list[Path]:
    if not root.is_dir():
        return []
    unsafe = _unsafe_reason(root.parent) or _unsafe_reason(root)
    if unsafe is not None:
        logger.warning("not pruning worktrees in %s: %s", root, unsafe)
        return []
    stale: list[Path] = []
    for entry in sorted(root.iterdir()):
        name = entry.name.removesuffix(".index")
        run_id = run_id_of(name)
        if run_id is None or (root / name) in in_use:
            continue
        if run_id != current_run and _run_is_live(workspace, run_id):
            continue
        stale.append(entry)
    return stale


def _run_is_live(workspace: Path, run_id: str) -> bool:
    try:
        directory = run_dir(workspace, validate_run_id(run_id))
    except RunIdError:
        return False
    return lock_owner(directory / LOCK_NAME) is not None


def _copy_if_present(source: Path, target: Path) -> None:
    if source.is_file():
        shutil.copyfile(source, target)


def _make_root(root: Path) -> None:
    """Create (or accept) the two folders under the temp dir as this user's alone."""
    shared = root.parent.parent
    reason = _unsafe_shared_reason(shared)
    for folder in (root.parent, root):
        if reason is not None:
            break
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        reason = _unsafe_reason(folder)
    if reason is not None:
        raise WorktreeError(f"refusing to put snapshot worktrees there: {reason}")


def _unsafe_reason(folder: Path) -> str | None:
    """Why `folder` may not hold snapshots: not a real folder, not ours, open to others."""
    try:
        info = folder.lstat()
    except OSError as error:
        return f"{folder}: {error.strerror}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{folder} is not a plain folder (a symlink or a file)"
    if _UID is None:
        return None
    if info.st_uid != _UID:
        return (
            f"{folder} belongs to uid {info.st_uid}, not to you (uid {_UID}); another "
            "user may have created it: remove it, or point TMPDIR at a folder of your own"
        )
    if info.st_mode & 0o077:
        return f"{folder} has mode {stat.S_IMODE(info.st_mode):o}, open to others: chmod 700 it"
    return None


def _unsafe_shared_reason(folder: Path) -> str | None:
    """The temp dir may be shared, but then only with the sticky bit (no renaming others')."""
    try:
        info = folder.stat()
    except OSError as error:
        return f"{folder}: {error.strerror}"
    if _UID is None:
        return None
    if info.st_uid not in (_UID, 0):
        return f"the temp dir {folder} belongs to uid {info.st_uid}, neither you nor root"
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        return f"the temp dir {folder} is writable by others without the sticky bit"
    return None


def _remove_entry(entry: Path) -> None:
    if entry.is_dir():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        _unlink_quietly(entry)


def _index_path(path: Path) -> Path:
    return path.with_name(path.name + ".index")


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
