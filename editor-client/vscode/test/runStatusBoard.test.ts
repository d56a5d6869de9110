import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RunStatusBoard } from "../src/runStatusBoard";
import type { RunStatusUpdate } from "../src/serverResults";

function update(run_id: string, status: string, extra: Partial<RunStatusUpdate> = {}): RunStatusUpdate {
  return { run_id, workflow: `wf-${run_id}`, status, step: undefined, message: undefined, ...extra };
}

describe("RunStatusBoard", () => {
  it("shows nothing before any run reports", () => {
    assert.equal(new RunStatusBoard().view(), undefined);
  });

  it("shows the running run and its current step", () => {
    const board = new RunStatusBoard();
    board.apply(update("r1", "running", { step: "lint" }));
    const view = board.view();
    assert.equal(view?.text, "$(sync~spin) wf-r1: lint");
    assert.equal(view?.runId, "r1");
    assert.match(view?.tooltip ?? "", /tether run r1\nworkflow wf-r1, running at step lint\nClick to show the run/);
  });

  it("keeps a finished run's outcome visible, with its message", () => {
    const board = new RunStatusBoard();
    board.apply(update("r1", "running"));
    board.apply(update("r1", "timed_out", { message: "budget spent; tether resume r1" }));
    const view = board.view();
    assert.equal(view?.text, "$(watch) wf-r1: timed out");
    assert.match(view?.tooltip ?? "", /budget spent; tether resume r1/);
  });

  it("keeps the step name through heartbeats, which carry none", () => {
    const board = new RunStatusBoard();
    board.apply(update("r1", "running", { step: "first", message: "first started" }));
    board.apply(update("r1", "running", { message: "running first · 5.0s" }));
    assert.equal(board.view()?.text, "$(sync~spin) wf-r1: first");
    assert.match(board.view()?.tooltip ?? "", /running at step first/);
    board.apply(update("r1", "succeeded", { message: "succeeded" }));
    assert.equal(board.view()?.text, "$(check) wf-r1: succeeded");
  });

  it("does not repeat the status in a finished run's tooltip", () => {
    const board = new RunStatusBoard();
    board.apply(update("r1", "succeeded", { message: "succeeded" }));
    assert.equal(board.view()?.tooltip, "tether run r1\nworkflow wf-r1, succeeded\nClick to show the run");
  });

  it("prefers a running run over a more recent finished one, and counts the others", () => {
    const board = new RunStatusBoard();
    board.apply(update("r1", "running", { step: "a" }));
    board.apply(update("r2", "running", { step: "b" }));
    board.apply(update("r3", "succeeded"));
    const view = board.view();
    assert.equal(view?.runId, "r2");
    assert.equal(view?.text, "$(sync~spin) wf-r2: b (+1)");
    assert.match(view?.tooltip ?? "", /2 runs active/);
    board.apply(update("r2", "failed"));
    assert.equal(board.view()?.runId, "r1");
  });

  it("forgets everything on clear", () => {
    const board = new RunStatusBoard();
    board.apply(update("r1", "running"));
    board.clear();
    assert.equal(board.view(), undefined);
  });

  it("tracks a bounded number of runs", () => {
    const board = new RunStatusBoard();
    board.apply(update("old", "running"));
    for (let index = 0; index < 60; index += 1) {
      board.apply(update(`r${index}`, "succeeded"));
    }
    // The oldest run was evicted, so its stale "running" no longer wins.
    assert.equal(board.view()?.runId, "r59");
  });
});
