// Command names on both sides of the contract. Pure (no `vscode` import).
//
// Palette commands are the extension's own; server commands go out as
// `workspace/executeCommand`. vscode-languageclient also registers every server
// command as a VS Code command, so the two sets must never share a name.

export const PALETTE_COMMANDS = {
  runWorkflow: "tether.runWorkflow",
  resumeRun: "tether.resumeRun",
  cancelRun: "tether.cancelRun",
  showRuns: "tether.showRuns",
  lookUpDocs: "tether.lookUpDocs",
  prewarmDocs: "tether.prewarmDocs",
  restartServer: "tether.restartServer",
} as const;

export const SERVER_COMMANDS = {
  run: "tether.run",
  start: "tether.start",
  resume: "tether.resume",
  cancel: "tether.cancel",
  runs: "tether.runs",
  show: "tether.show",
  workflows: "tether.workflows",
  docs: "tether.docs",
  prewarm: "tether.prewarm",
  cacheStats: "tether.cacheStats",
} as const;
