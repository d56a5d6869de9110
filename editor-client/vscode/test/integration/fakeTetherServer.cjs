"use strict";
// A stand-in for `python -m tether serve` for the extension's integration test: a real
// LSP server over stdio (vscode-languageserver) that answers `workspace/executeCommand`
// from a JSON file the test rewrites between steps, and appends everything it sees to a
// JSON-lines record. Started as `node fakeTetherServer.cjs RECORD RESPONSES -m tether serve`.
//
// RESPONSES maps a command name to {"result": ...}, optionally with "notify" (a list of
// tether/runStatus params sent first), "error" (answer with that error) or "crash"
// (exit mid-request, as a crashing server would).

const fs = require("node:fs");
const { createConnection, ProposedFeatures, ResponseError } = require("vscode-languageserver/node");

const [recordPath, responsesPath] = process.argv.slice(2);
const COMMANDS = [
  "tether.run",
  "tether.start",
  "tether.resume",
  "tether.cancel",
  "tether.runs",
  "tether.show",
  "tether.workflows",
  "tether.docs",
  "tether.prewarm",
  "tether.cacheStats",
];

function record(event) {
  fs.appendFileSync(recordPath, `${JSON.stringify({ pid: process.pid, ...event })}\n`);
}

const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);

connection.onInitialize((params) => {
  record({
    event: "initialize",
    argv: process.argv.slice(2),
    cwd: process.cwd(),
    initializationOptions: params.initializationOptions,
  });
  return { capabilities: { executeCommandProvider: { commands: COMMANDS } } };
});

connection.onInitialized(async () => {
  // Re-read the settings the way the real server does, through workspace/configuration.
  const [tether, docs, interpreter, other] = await connection.workspace.getConfiguration([
    { section: "tether" },
    { section: "tether.docs" },
    { section: "tether.interpreter" },
    { section: "files" },
  ]);
  record({ event: "configuration", tether, docs, interpreter, other });
});

connection.onExecuteCommand(async (params) => {
  record({ event: "command", command: params.command, arguments: params.arguments });
  const responses = JSON.parse(fs.readFileSync(responsesPath, "utf8"));
  const reply = responses[params.command];
  if (reply === undefined) {
    throw new ResponseError(-32602, `Command name '${params.command}' is not defined`);
  }
  for (const update of reply.notify ?? []) {
    await connection.sendNotification("tether/runStatus", update);
  }
  if (reply.crash) {
    record({ event: "crash" });
    process.exit(3);
  }
  if (reply.error !== undefined) {
    throw new ResponseError(-32603, reply.error);
  }
  return reply.result;
});

connection.onShutdown(() => record({ event: "shutdown" }));
connection.listen();
