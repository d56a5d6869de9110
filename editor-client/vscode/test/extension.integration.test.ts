// Loads the real extension bundle (with the real vscode-languageclient) against a stand-in
// for the `vscode` module and drives it end to end: it spawns a real LSP server process
// over stdio (test/integration/fakeTetherServer.cjs), runs the palette commands, and
// checks what reached the server and what the user would see.

import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { build } from "esbuild";
import { extensionBundleOptions } from "../esbuild.config";

interface StubControl {
  settings: Record<string, unknown>;
  quickPickAnswers: unknown[];
  inputBoxAnswers: (string | undefined)[];
  openDialogAnswers: unknown[];
  quickPicks: { items: { label: string }[]; options: unknown }[];
  inputBoxes: { options: unknown; answer: string | undefined; validation: string | undefined }[];
  messages: { kind: string; text: string }[];
  documents: { language: string; content: string }[];
  builtinCommands: unknown[][];
  contentProviders: Map<string, unknown>;
  progress: { options: unknown; reports: unknown[]; ended: boolean; cancel(): void }[];
  statusBarItems: { text: string; tooltip: string; visible: boolean; command?: { command: string; arguments: unknown[] } }[];
  commands: Map<string, (...args: unknown[]) => Promise<unknown>>;
  changeSettings(changes: Record<string, unknown>): void;
  usePythonEnvironment(executable: string): void;
  switchPythonEnvironment(executable: string): void;
  reset(): void;
}

/** The text the extension's `tether:` content provider gives for `uri`. */
function previewed(stub: StubControl, uri: unknown): string {
  const provider = stub.contentProviders.get("tether") as { provideTextDocumentContent(uri: unknown): string } | undefined;
  assert.ok(provider, "a tether: content provider is registered");
  return provider.provideTextDocumentContent(uri);
}

interface ExtensionModule {
  activate(context: { subscriptions: { dispose(): unknown }[] }): void;
  deactivate(): Promise<void>;
}

interface ServerEvent {
  pid: number;
  event: string;
  argv?: string[];
  initializationOptions?: unknown;
  tether?: unknown;
  docs?: unknown;
  interpreter?: unknown;
  other?: unknown;
  command?: string;
  arguments?: unknown[];
}

const FAKE_SERVER = join(__dirname, "integration", "fakeTetherServer.cjs");
const WAIT_MS = 15_000;

const RUNS = [
  { run_id: "r-waiting", workflow: "build", status: "waiting", age_seconds: 30, duration_ms: 2000 },
  { run_id: "r-running", workflow: "check", status: "running", age_seconds: 5, duration_ms: null },
  { run_id: "r-done", workflow: "check", status: "succeeded", age_seconds: 600, duration_ms: 4000 },
];

const DEFAULT_RESPONSES = {
  "tether.workflows": { result: [{ name: "check", description: "Lint and test", source: "builtin" }, { name: "build", description: "", source: ".tether/workflows/build.toml" }] },
  "tether.start": {
    result: { run_id: "r-new" },
    notify: [{ run_id: "r-new", workflow: "check", status: "running", step: "lint" }],
  },
  "tether.runs": { result: RUNS },
  "tether.show": {
    result: { run_id: "r-new", workflow: "check", status: "paused", resume_command: "tether resume r-new", steps: [{ id: "lint", status: "succeeded", attempts: 1, duration_ms: 1500 }] },
  },
  "tether.resume": { result: { run_id: "r-waiting", status: "succeeded" } },
  "tether.cancel": { result: { run_id: "r-running", status: "cancelled" } },
  "tether.docs": { result: { markdown: "# httpx 0.28.1\n\nStreaming responses ...", library: "httpx", version: "0.28.1", provider: "local" } },
  "tether.prewarm": { result: { libraries: 3 } },
};

/**
 * One copy of the bundle with its own `vscode` stub in a temporary directory, so each
 * describe block activates a fresh extension.
 */
class ExtensionHarness {
  readonly directory = mkdtempSync(join(tmpdir(), "tether-vscode-"));
  readonly recordPath = join(this.directory, "server-events.jsonl");
  readonly responsesPath = join(this.directory, "responses.json");
  readonly subscriptions: { dispose(): unknown }[] = [];
  stub!: StubControl;
  extension!: ExtensionModule;

  /** `tether.interpreter` that starts the fake server. */
  get fakeInterpreter(): string[] {
    return [process.execPath, FAKE_SERVER, this.recordPath, this.responsesPath];
  }

  async load(): Promise<StubControl> {
    const load = createRequire(__filename);
    await build(extensionBundleOptions(join(this.directory, "extension.js")));
    mkdirSync(join(this.directory, "node_modules", "vscode"), { recursive: true });
    copyFileSync(join(__dirname, "integration", "vscodeStub.cjs"), join(this.directory, "node_modules", "vscode", "index.js"));
    this.respond({});
    this.stub = (load(join(this.directory, "node_modules", "vscode")) as { __test: StubControl }).__test;
    this.extension = load(join(this.directory, "extension.js")) as ExtensionModule;
    return this.stub;
  }

  activate(): void {
    this.extension.activate({ subscriptions: this.subscriptions });
  }

  async close(): Promise<void> {
    await this.extension.deactivate();
    this.subscriptions.forEach((subscription) => subscription.dispose());
    rmSync(this.directory, { recursive: true, force: true });
  }

  /** A script standing in for an environment's `python`: it starts the fake server. */
  writePythonExecutable(name: string): string {
    const path = join(this.directory, name);
    writeFileSync(path, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(FAKE_SERVER)} ${JSON.stringify(this.recordPath)} ${JSON.stringify(this.responsesPath)} "$0" "$@"\n`);
    chmodSync(path, 0o755);
    return path;
  }

  events(): ServerEvent[] {
    return existsSync(this.recordPath)
      ? readFileSync(this.recordPath, "utf8")
          .split("\n")
          .filter((line) => line !== "")
          .map((line) => JSON.parse(line) as ServerEvent)
      : [];
  }

  commandsSent(): [string | undefined, unknown][] {
    return this.events()
      .filter((event) => event.event === "command")
      .map((event) => [event.command, event.arguments]);
  }

  /** The newest server's initialize, once it has one. */
  started(): ServerEvent | undefined {
    return this.events().findLast((event) => event.event === "initialize");
  }

  respond(overrides: Record<string, unknown>): void {
    writeFileSync(this.responsesPath, JSON.stringify({ ...DEFAULT_RESPONSES, ...overrides }));
  }

  async run(command: string, argument?: unknown): Promise<void> {
    const handler = this.stub.commands.get(command);
    assert.ok(handler, `${command} is registered`);
    await handler(argument);
  }

  clearRecord(): void {
    rmSync(this.recordPath, { force: true });
  }
}

describe("the extension against a real language server process", () => {
  const harness = new ExtensionHarness();
  const { recordPath, responsesPath, directory } = harness;
  let stub: StubControl;
  let extension: ExtensionModule;
  const events = (): ServerEvent[] => harness.events();
  const commandsSent = (): [string | undefined, unknown][] => harness.commandsSent();
  const respond = (overrides: Record<string, unknown>): void => harness.respond(overrides);
  const run = (command: string, argument?: unknown): Promise<void> => harness.run(command, argument);
  const clearRecord = (): void => harness.clearRecord();

  before(async () => {
    stub = await harness.load();
    extension = harness.extension;
    stub.settings["tether.interpreter"] = harness.fakeInterpreter;
    stub.settings["tether.progressInterval"] = 2;
    stub.settings["tether.docs.providers"] = ["local"];
    stub.settings["tether.logLevel"] = "verbose";
    harness.activate();
  });

  after(() => harness.close());

  it("starts `<interpreter> -m tether serve` with the mapped initializationOptions", async () => {
    const started = await waitFor(() => events().find((event) => event.event === "initialize"), "the server's initialize");
    assert.deepEqual(started.argv, [recordPath, responsesPath, "-m", "tether", "serve"]);
    assert.deepEqual(started.initializationOptions, {
      progressInterval: 2,
      prewarm: { onStart: true, onSave: true },
      docs: { providers: ["local"], offline: false },
      context7: { url: null },
      defaultBudget: "50s",
      logLevel: "info",
    });
    // The invalid log level was reported once, naming the setting.
    assert.deepEqual(
      stub.messages.filter((message) => message.kind === "warning").map((message) => message.text),
      ['Tether: tether.logLevel: "verbose" is not one of error, warning, info, debug; using the default "info"'],
    );
  });

  it("answers workspace/configuration for tether sections in the initializationOptions shape", async () => {
    const configuration = await waitFor(() => events().find((event) => event.event === "configuration"), "a configuration request");
    assert.deepEqual(configuration.tether, events().find((event) => event.event === "initialize")?.initializationOptions);
    assert.deepEqual(configuration.docs, { providers: ["local"], offline: false });
    // Client-only settings never reach the server; other sections are VS Code's own answer.
    assert.equal(configuration.interpreter, null);
    assert.equal(configuration.other, null);
  });

  it("Run Workflow picks from tether.workflows and starts the run with its params", async () => {
    stub.reset();
    stub.quickPickAnswers.push((items: { label: string }[]) => items[0]);
    stub.inputBoxAnswers.push('target=src message="two words"');
    await run("tether.runWorkflow");
    assert.deepEqual(stub.quickPicks[0].items.map((item) => item.label), ["check", "build"]);
    assert.deepEqual(commandsSent().slice(-2), [
      ["tether.workflows", [{}]],
      ["tether.start", [{ workflow: "check", params: { target: "src", message: "two words" } }]],
    ]);
    // The notification shows before the server answers, and stays (the run goes on).
    assert.equal(stub.progress.length, 1);
    assert.deepEqual(stub.progress[0].options, { location: 15, title: "Tether: check", cancellable: true });
    assert.deepEqual(stub.progress[0].reports[0], { message: "starting…" });
    assert.equal(stub.progress[0].ended, false);
    assert.deepEqual(stub.messages, []);
  });

  it("shows the run from tether/runStatus in the status bar, and clicking it shows the run", async () => {
    const item = await waitFor(() => stub.statusBarItems.find((candidate) => candidate.visible), "the status bar item");
    assert.equal(item.text, "$(sync~spin) check: lint");
    assert.deepEqual(item.command?.arguments, [{ run_id: "r-new" }]);
    stub.reset();
    await run(item.command?.command ?? "", ...(item.command?.arguments ?? []));
    assert.deepEqual(commandsSent().at(-1), ["tether.show", [{ run_id: "r-new" }]]);
    // A read-only tether: document is previewed; no untitled document is opened.
    assert.deepEqual(stub.documents, []);
    const [[command, uri]] = stub.builtinCommands as [[string, { scheme: string; path: string }]];
    assert.equal(command, "markdown.showPreview");
    assert.deepEqual([uri.scheme, uri.path], ["tether", "/runs/r-new.md"]);
    const page = previewed(stub, uri);
    assert.match(page, /^# check — paused$/m);
    assert.match(page, /tether resume r-new/);
  });

  it("Run Workflow refuses malformed params in the input box and starts nothing", async () => {
    stub.reset();
    const before = commandsSent().length;
    stub.quickPickAnswers.push((items: { label: string }[]) => items[0]);
    stub.inputBoxAnswers.push("target");
    await run("tether.runWorkflow");
    assert.equal(stub.inputBoxes[0].validation, 'parameter 1 ("target"): expected KEY=VALUE');
    assert.deepEqual(commandsSent().slice(before), [["tether.workflows", [{}]]]);
  });

  it("Resume Run offers only resumable runs and passes a waiting run's typed result", async () => {
    stub.reset();
    stub.quickPickAnswers.push((items: { label: string }[]) => items[0], (items: string[]) => items[0]);
    stub.inputBoxAnswers.push("the agent's answer");
    await run("tether.resumeRun");
    assert.deepEqual(stub.quickPicks[0].items.map((item) => item.label), ["$(comment-discussion) build"]);
    assert.deepEqual(commandsSent().slice(-2), [
      ["tether.runs", [{}]],
      ["tether.resume", [{ run_id: "r-waiting", result: "the agent's answer" }]],
    ]);
  });

  it("Resume Run passes a chosen result file", async () => {
    stub.reset();
    stub.quickPickAnswers.push((items: { label: string }[]) => items[0], (items: string[]) => items[1]);
    stub.openDialogAnswers.push([{ fsPath: "/tmp/answer.md" }]);
    await run("tether.resumeRun");
    assert.deepEqual(commandsSent().at(-1), ["tether.resume", [{ run_id: "r-waiting", result_file: "/tmp/answer.md" }]]);
  });

  it("Cancel Run offers running runs only and cancels the one picked", async () => {
    stub.reset();
    stub.quickPickAnswers.push((items: { label: string }[]) => items[0]);
    await run("tether.cancelRun");
    assert.deepEqual(stub.quickPicks[0].items.map((item) => item.label), ["$(sync~spin) check"]);
    assert.deepEqual(commandsSent().at(-1), ["tether.cancel", [{ run_id: "r-running" }]]);
  });

  it("Look Up Docs sends {library, query} and previews the markdown", async () => {
    stub.reset();
    stub.inputBoxAnswers.push("httpx", "streaming responses");
    await run("tether.lookUpDocs");
    assert.deepEqual(commandsSent().at(-1), ["tether.docs", [{ library: "httpx", query: "streaming responses" }]]);
    assert.deepEqual(stub.documents, []);
    const [[command, uri]] = stub.builtinCommands as [[string, { scheme: string; path: string }]];
    assert.equal(command, "markdown.showPreview");
    assert.deepEqual([uri.scheme, uri.path], ["tether", "/docs/httpx.md"]);
    assert.equal(previewed(stub, uri), "# httpx 0.28.1\n\nStreaming responses ...");
  });

  it("Prewarm Docs sends tether.prewarm with an empty object", async () => {
    await run("tether.prewarmDocs");
    assert.deepEqual(commandsSent().at(-1), ["tether.prewarm", [{}]]);
  });

  it("reports a garbage server answer and a server error in one line each", async () => {
    stub.reset();
    respond({ "tether.workflows": { result: "not a list" }, "tether.prewarm": { error: "cache is read-only\nTraceback (most recent call last):\n  ..." } });
    await run("tether.runWorkflow");
    await run("tether.prewarmDocs");
    assert.deepEqual(
      stub.messages.map((message) => message.text),
      [
        'Tether: Run Workflow failed: tether.workflows returned "not a list", expected a list',
        "Tether: Prewarm Docs failed: cache is read-only",
      ],
    );
    respond({});
  });

  it("restarts the server with new options when a tether setting changes", async () => {
    const firstPid = events().find((event) => event.event === "initialize")?.pid;
    clearRecord();
    stub.changeSettings({ "tether.docs.offline": true });
    const restarted = await waitFor(() => events().find((event) => event.event === "initialize"), "a restarted server");
    assert.notEqual(restarted.pid, firstPid);
    assert.deepEqual((restarted.initializationOptions as { docs: unknown }).docs, { providers: ["local"], offline: true });
    await waitFor(() => !isAlive(firstPid), "the old server to exit");
  });

  it("brings a crashed server back and keeps serving commands", async () => {
    const crashedPid = events().find((event) => event.event === "initialize")?.pid;
    clearRecord();
    stub.reset();
    respond({ "tether.prewarm": { crash: true } });
    await run("tether.prewarmDocs");
    respond({});
    const restarted = await waitFor(() => events().find((event) => event.event === "initialize"), "a server after the crash");
    assert.notEqual(restarted.pid, crashedPid);
    assert.match(stub.messages[0]?.text ?? "", /^Tether: Prewarm Docs failed: /);
    // Commands wait for the client's own restart rather than failing while it starts.
    await run("tether.prewarmDocs");
    assert.deepEqual(commandsSent().at(-1), ["tether.prewarm", [{}]]);
  });

  it("explains a server that cannot start, and recovers when the interpreter is fixed", async () => {
    stub.reset();
    stub.changeSettings({ "tether.interpreter": [join(directory, "no-such-python")] });
    const failure = await waitFor(
      () => stub.messages.find((message) => message.kind === "error" && message.text.includes("did not start")),
      "the start failure message",
    );
    // One message for one failure: the library's generic one only goes to the log.
    assert.deepEqual(
      stub.messages.filter((message) => message.kind === "error").map((message) => message.text),
      [failure.text],
    );
    assert.equal(
      failure.text,
      `Tether: the language server did not start with ${join(directory, "no-such-python")} -m tether serve (from tether.interpreter). Check the tether.interpreter setting.`,
    );
    stub.reset();
    await run("tether.prewarmDocs");
    assert.match(stub.messages.at(-1)?.text ?? "", /^Tether: Prewarm Docs failed: the language server is not running/);

    clearRecord();
    stub.changeSettings({ "tether.interpreter": harness.fakeInterpreter });
    await waitFor(() => events().find((event) => event.event === "initialize"), "the server with the fixed interpreter");
  });

  it("Restart Server replaces the server process, and deactivate shuts it down", async () => {
    await waitFor(() => events().some((event) => event.event === "configuration"), "the server to be ready");
    const oldPid = events().find((event) => event.event === "initialize")?.pid;
    clearRecord();
    await run("tether.restartServer");
    const restarted = await waitFor(() => events().find((event) => event.event === "initialize"), "the restarted server");
    assert.notEqual(restarted.pid, oldPid);
    await extension.deactivate();
    assert.ok(events().some((event) => event.event === "shutdown" && event.pid === restarted.pid));
    await waitFor(() => !isAlive(restarted.pid), "the server process to exit");
  });
});

describe("the extension with the Python extension's active environment", () => {
  const harness = new ExtensionHarness();
  let stub: StubControl;
  let first: string;
  let second: string;

  before(async () => {
    stub = await harness.load();
    first = harness.writePythonExecutable("env-a-python");
    second = harness.writePythonExecutable("env-b-python");
    stub.usePythonEnvironment(first);
    harness.activate();
  });

  after(() => harness.close());

  /** The pid of the server that answered the newest command sent. */
  const serverOfLastCommand = (): number | undefined => harness.events().findLast((event) => event.event === "command")?.pid;

  it("starts the active environment's interpreter when tether.interpreter is empty", async () => {
    const started = await waitFor(() => harness.started(), "the server's initialize");
    assert.deepEqual(started.argv?.slice(2), [first, "-m", "tether", "serve"]);
  });

  it("restarts with the new interpreter when the active environment changes", async () => {
    const oldPid = harness.started()?.pid;
    harness.clearRecord();
    stub.switchPythonEnvironment(second);
    const restarted = await waitFor(() => harness.started(), "the server in the new environment");
    assert.notEqual(restarted.pid, oldPid);
    assert.deepEqual(restarted.argv?.slice(2), [second, "-m", "tether", "serve"]);
  });

  it("ignores environment changes while tether.interpreter is set", async () => {
    harness.clearRecord();
    stub.changeSettings({ "tether.interpreter": harness.fakeInterpreter });
    const configured = await waitFor(() => harness.started(), "the server from tether.interpreter");
    assert.deepEqual(configured.argv?.slice(2), ["-m", "tether", "serve"]);
    stub.switchPythonEnvironment(first);
    // A restart would be queued before this command, which waits for queued restarts.
    await harness.run("tether.prewarmDocs");
    assert.equal(serverOfLastCommand(), configured.pid);
  });
});

/** Polls `probe` until it returns something truthy; fails after WAIT_MS naming `what`. */
async function waitFor<T>(probe: () => T | undefined | false, what: string): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = probe();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
