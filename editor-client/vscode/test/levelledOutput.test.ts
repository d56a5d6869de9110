import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { unwrapLibraryLine } from "../src/levelledOutput";

describe("unwrapLibraryLine", () => {
  it("drops the library's own timestamp and keeps its level", () => {
    assert.deepEqual(unwrapLibraryLine("[Info  - 10:23:45 AM] tether.lsp: ready"), { level: "info", text: "tether.lsp: ready" });
    assert.deepEqual(unwrapLibraryLine("[Warn  - 10:23:45] slow"), { level: "warn", text: "slow" });
    assert.deepEqual(unwrapLibraryLine("[Error - 22:01:02] boom\nmore"), { level: "error", text: "boom\nmore" });
  });

  it("does not call a clean exit of the server an error", () => {
    assert.deepEqual(unwrapLibraryLine("[Error - 10:23:45] Server process exited with code 0."), {
      level: "info",
      text: "Server process exited with code 0.",
    });
    assert.equal(unwrapLibraryLine("[Error - 10:23:45] Server process exited with code 1.").level, "error");
  });

  it("passes other lines through as info", () => {
    assert.deepEqual(unwrapLibraryLine("[Info] no dash"), { level: "info", text: "[Info] no dash" });
    assert.deepEqual(unwrapLibraryLine("plain"), { level: "info", text: "plain" });
  });
});
