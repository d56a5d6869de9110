import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  parseDocsResult,
  parseRunStatus,
  parseRuns,
  parseShowResult,
  parseStartResult,
  parseWorkflows,
  ServerResultError,
} from "../src/serverResults";

describe("server results", () => {
  it("reads tether.workflows, tolerating a missing description or source", () => {
    assert.deepEqual(
      parseWorkflows([
        { name: "check", description: "Lint and test", source: "builtin" },
        { name: "build", description: null },
      ]),
      [
        { name: "check", description: "Lint and test", source: "builtin" },
        { name: "build", description: "", source: "" },
      ],
    );
  });

  it("reads tether.runs, with null timings for a run that has none yet", () => {
    assert.deepEqual(parseRuns([{ run_id: "r1", workflow: "check", status: "running", age_seconds: 3.5, duration_ms: null }]), [
      { run_id: "r1", workflow: "check", status: "running", age_seconds: 3.5, duration_ms: null },
    ]);
  });

  it("reads tether.start, tether.docs and tether.show", () => {
    assert.deepEqual(parseStartResult({ run_id: "r9", extra: 1 }), { run_id: "r9" });
    assert.deepEqual(parseDocsResult({ markdown: "# httpx", library: "httpx", version: "0.28.1", provider: "local" }), {
      markdown: "# httpx",
      library: "httpx",
      version: "0.28.1",
      provider: "local",
    });
    assert.deepEqual(parseShowResult({ run_id: "r9", steps: [] }), { run_id: "r9", steps: [] });
  });

  it("reads tether/runStatus with and without step and message", () => {
    assert.deepEqual(parseRunStatus({ run_id: "r1", workflow: "check", status: "running", step: "lint" }), {
      run_id: "r1",
      workflow: "check",
      status: "running",
      step: "lint",
      message: undefined,
    });
    assert.equal(parseRunStatus({ run_id: "r1", workflow: "check", status: "failed", message: "lint failed" }).message, "lint failed");
  });

  const garbage: [string, () => unknown, RegExp][] = [
    ["workflows not a list", () => parseWorkflows({ name: "x" }), /^tether\.workflows returned \{"name":"x"\}, expected a list$/],
    ["workflow without a name", () => parseWorkflows([{ name: "ok" }, { description: "x" }]), /^tether\.workflows item 2: "name" is missing, expected a non-empty string$/],
    ["run item not an object", () => parseRuns(["r1"]), /^tether\.runs item 1 is "r1", expected an object$/],
    ["age as text", () => parseRuns([{ run_id: "r", workflow: "w", status: "s", age_seconds: "3" }]), /"age_seconds" is "3", expected a number/],
    ["start without run id", () => parseStartResult(null), /^tether\.start result is null, expected an object$/],
    ["docs with numeric markdown", () => parseDocsResult({ markdown: 1, library: "x" }), /tether\.docs result: "markdown" is 1/],
    ["show as a list", () => parseShowResult([]), /tether\.show result is \[\], expected an object/],
    ["status without workflow", () => parseRunStatus({ run_id: "r", status: "running" }), /tether\/runStatus notification: "workflow" is missing/],
    ["status with numeric step", () => parseRunStatus({ run_id: "r", workflow: "w", status: "running", step: 2 }), /"step" is 2, expected a string/],
  ];
  for (const [name, parse, message] of garbage) {
    it(`refuses ${name} with a one-line message`, () => {
      assert.throws(parse, (error: unknown) => error instanceof ServerResultError && message.test(error.message) && !error.message.includes("\n"));
    });
  }

  it("shortens huge values in messages", () => {
    assert.throws(() => parseWorkflows("x".repeat(500)), (error: unknown) => error instanceof Error && error.message.length < 120);
  });
});
