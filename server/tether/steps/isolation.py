"""`isolation = "worktree"` for any step kind: run the step in a snapshot worktree.

(`isolation = "process"` is accepted here for kinds that say they support it, the python
kind, and passed through: that kind runs its callable in a child process.)

A wrapper kind, so the engine never learns about git: it validates and strips the
`isolation` option, then runs the wrapped kind with `ctx.workspace` pointing into a
snapshot of HEAD plus uncommitted changes (see steps.worktree). `${run.workspace}` in the
step's options still names the real workspace: templates are rendered before the step runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.engine.context import StepContext
from tether.engine.errors import StepFailed
from tether.engine.kinds import StepKind
from tether.engine.spec import StepSpec
from tether.steps.worktree import LiveWorktrees, WorktreeError, snapshot_worktree

ISOLATION_FIELD = "isolation"
_CHOICES = ("none", "worktree", "process")
# Time after cancellation to remove the worktree (a `git worktree remove`) before the
# engine gives up on the step; an abandoned step's cleanup callback removes it anyway.
_REMOVAL_GRACE = 3.0


class IsolatedKind:
    """Wraps a step kind; transparent for steps without `isolation`."""

    def __init__(self, inner: StepKind, live: LiveWorktrees) -> None:
        self.inner = inner
        self.name = inner.name
        self.live = live

    def validate(self, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if ISOLATION_FIELD in options:
            value = options[ISOLATION_FIELD]
            if value not in _CHOICES:
                choices = '"worktree", "process" or "none"'
                problems.append((ISOLATION_FIELD, f"must be {choices}, got {value!r}"))
            elif value == "process" and not getattr(self.inner, "process_isolation", False):
                problems.append(
                    (ISOLATION_FIELD, f'"process" is for python steps, not {self.name} steps')
                )
            elif value == "worktree":
                problem = _isolation_problem(self.inner, options)
                if problem:
                    problems.append((ISOLATION_FIELD, problem))
        rest = {key: value for key, value in options.items() if key != ISOLATION_FIELD}
        return problems + list(self.inner.validate(rest))

    def stable_definition(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The inner kind's, when it has one (the python kind's moved modules)."""
        stable = getattr(self.inner, "stable_definition", None)
        return dict(stable(raw)) if stable is not None else dict(raw)

    def cancel_grace(self, step: StepSpec) -> float:
        grace = self.inner.cancel_grace(step)
        if step.options.get(ISOLATION_FIELD) == "worktree":
            grace += _REMOVAL_GRACE
        return grace

    async def execute(self, ctx: StepContext) -> Any:
        if ctx.options.get(ISOLATION_FIELD) != "worktree":
            return await self.inner.execute(ctx)
        real_workspace = ctx.workspace
        try:
            async with snapshot_worktree(
                real_workspace,
                run_id=ctx.run_id,
                step_id=ctx.step.id,
                remaining=ctx.remaining,
                live=self.live,
                on_cleanup=ctx.on_cleanup,
            ) as snapshot:
                ctx.logger.info("running in snapshot worktree %s", snapshot.path)
                ctx.workspace = snapshot.workspace
                try:
                    return await self.inner.execute(ctx)
                finally:
                    ctx.workspace = real_workspace
        except WorktreeError as error:
            raise StepFailed(str(error)) from None


def _isolation_problem(inner: StepKind, options: Mapping[str, Any]) -> str | None:
    """A kind may refuse isolation for some options (an agent step waits for days; a
    snapshot removed when it pauses would only mislead the agent)."""
    check = getattr(inner, "isolation_problem", None)
    return check(options) if callable(check) else None
