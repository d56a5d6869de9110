import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatAge, formatDuration, isResumable, isRunning, renderRunMarkdown, runPickItem, statusIcon } from "../src/runPresentation";

describe("run presentation", () => {
  it("knows which statuses can be resumed", () => {
    const resumable = ["paused", "waiting", "cancelled", "failed", "timed_out"];
    for (const status of resumable) {
      assert.ok(isResumable({ status }), status);
    }
    for (const status of ["running", "succeeded", "mystery"]) {
      assert.ok(!isResumable({ status }), status);
    }
    assert.ok(isRunning({ status: "running" }));
    assert.ok(!isRunning({ status: "paused" }));
  });

  it("formats ages and durations for people", () => {
    assert.equal(formatAge(null), "");
    assert.equal(formatAge(12.4), "12 s ago");
    assert.equal(formatAge(125), "2 min ago");
    assert.equal(formatAge(7300), "2 h ago");
    assert.equal(formatAge(200000), "2 d ago");
    assert.equal(formatDuration(null), "");
    assert.equal(formatDuration(350), "350 ms");
    assert.equal(formatDuration(12345), "12.3 s");
    assert.equal(formatDuration(245000), "4 min 5 s");
  });

  it("builds a quick pick item for a run", () => {
    assert.deepEqual(runPickItem({ run_id: "r1", workflow: "check", status: "timed_out", age_seconds: 90, duration_ms: 1500 }), {
      label: "$(watch) check",
      description: "timed out · r1",
      detail: "1 min ago · 1.5 s",
      runId: "r1",
    });
    assert.equal(runPickItem({ run_id: "r2", workflow: "w", status: "running", age_seconds: null, duration_ms: null }).detail, "");
    assert.equal(statusIcon("brand-new-status"), "$(circle-outline)");
  });

  it("renders a run as markdown with its resume command, steps, errors and raw JSON", () => {
    const run = {
      run_id: "r1",
      workflow: "check",
      status: "paused",
      resume_command: "tether resume r1 --budget 50s",
      steps: [
        { id: "lint", status: "succeeded", attempts: 1, duration_ms: 1200, output: null, partial: [], error: null },
        { id: "test|unit", status: "failed", attempts: 2, duration_ms: 300, error: "assert 1 == 2\n```nested```" },
      ],
    };
    const markdown = renderRunMarkdown(run);
    assert.match(markdown, /^# check — paused$/m);
    assert.match(markdown, /```sh\ntether resume r1 --budget 50s\n```/);
    assert.match(markdown, /^\| lint \| succeeded \| 1 \| 1\.2 s \|$/m);
    assert.match(markdown, /^\| test\\\|unit \| failed \| 2 \| 300 ms \|$/m);
    // The error contains a fence, so it is wrapped in a longer one.
    assert.match(markdown, /````\nassert 1 == 2\n```nested```\n````/);
    assert.ok(markdown.includes(JSON.stringify(run, null, 2)));
  });

  it("renders a minimal run without a resume command or steps", () => {
    const markdown = renderRunMarkdown({ run_id: "r2", workflow: "build", status: "succeeded" });
    assert.match(markdown, /^# build — succeeded$/m);
    assert.ok(!markdown.includes("Resume with"));
    assert.ok(!markdown.includes("| Step |"));
  });
});
