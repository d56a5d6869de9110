import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { PALETTE_COMMANDS, SERVER_COMMANDS } from "../src/commandIds";

const manifest = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as {
  name: string;
  version: string;
  main: string;
  license: string;
  engines: { vscode: string };
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
  contributes: { commands: { command: string; title: string; category: string }[] };
};

describe("package.json", () => {
  it("contributes exactly the palette commands, all in the Tether category", () => {
    const contributed = manifest.contributes.commands.map((command) => command.command).sort();
    assert.deepEqual(contributed, Object.values(PALETTE_COMMANDS).sort());
    for (const command of manifest.contributes.commands) {
      assert.equal(command.category, "Tether", command.command);
    }
  });

  it("never reuses a server command name (the language client registers those itself)", () => {
    const serverNames = new Set<string>(Object.values(SERVER_COMMANDS));
    for (const command of Object.values(PALETTE_COMMANDS)) {
      assert.ok(!serverNames.has(command), command);
    }
  });

  it("titles commands that ask for more input with an ellipsis", () => {
    const titles = Object.fromEntries(manifest.contributes.commands.map((command) => [command.command, command.title]));
    assert.equal(titles[PALETTE_COMMANDS.runWorkflow], "Run Workflow…");
    assert.equal(titles[PALETTE_COMMANDS.resumeRun], "Resume Run…");
    assert.equal(titles[PALETTE_COMMANDS.lookUpDocs], "Look Up Docs…");
    assert.equal(titles[PALETTE_COMMANDS.restartServer], "Restart Server");
  });

  it("packages the bundle as tether-<version>.vsix for a VS Code its @types allow", () => {
    assert.equal(manifest.main, "./dist/extension.js");
    assert.equal(manifest.license, "MIT");
    // vsce names the package <name>-<version>.vsix.
    assert.equal(manifest.name, "tether");
    assert.match(manifest.scripts.package, /^vsce package --no-dependencies$/);
    const engine = manifest.engines.vscode.replace(/^\^/, "");
    const types = manifest.devDependencies["@types/vscode"].replace(/^[~^]/, "");
    assert.ok(types.localeCompare(engine, undefined, { numeric: true }) <= 0, `@types/vscode ${types} > engine ${engine}`);
  });
});
