// The "Tether: ..." palette commands. Each gathers input, builds the one object
// argument (commandArguments), calls the server (serverSupervisor) and checks the
// answer (serverResults) before showing it.

import * as vscode from "vscode";
import {
  ArgumentError,
  docsArguments,
  paramsProblem,
  resumeArguments,
  runIdArguments,
  runIdFromCommandArgument,
  startArguments,
  type WaitingAnswer,
} from "./commandArguments";
import { PALETTE_COMMANDS, SERVER_COMMANDS } from "./commandIds";
import { isResumable, isRunning, renderRunMarkdown, runPickItem } from "./runPresentation";
import {
  parseDocsResult,
  parseRuns,
  parseShowResult,
  parseStartResult,
  parseWorkflows,
  type RunSummary,
} from "./serverResults";
import type { PaletteRuns } from "./runProgress";
import type { ServerSupervisor } from "./serverSupervisor";
import type { TetherDocuments } from "./tetherDocuments";

const STATUS_MESSAGE_MS = 5000;

export function registerCommands(
  server: ServerSupervisor,
  output: vscode.LogOutputChannel,
  palette: PaletteRuns,
  documents: TetherDocuments,
): vscode.Disposable[] {
  const commands = new TetherCommands(server, output, palette, documents);
  const register = (id: string, title: string, run: (argument?: unknown) => Promise<void>): vscode.Disposable =>
    vscode.commands.registerCommand(id, async (argument?: unknown) => {
      try {
        await run(argument);
      } catch (error) {
        // The one place command failures surface: logged with context, shown once.
        const message = error instanceof Error ? error.message : String(error);
        output.error(`${title} failed: ${message}`);
        // A server error may carry a traceback; the toast keeps its first line, the log all of it.
        void vscode.window.showErrorMessage(`Tether: ${title} failed: ${message.split("\n")[0]}`);
      }
    });
  return [
    register(PALETTE_COMMANDS.runWorkflow, "Run Workflow", () => commands.runWorkflow()),
    register(PALETTE_COMMANDS.resumeRun, "Resume Run", (argument) => commands.resumeRun(argument)),
    register(PALETTE_COMMANDS.cancelRun, "Cancel Run", (argument) => commands.cancelRun(argument)),
    register(PALETTE_COMMANDS.showRuns, "Show Runs", (argument) => commands.showRuns(argument)),
    register(PALETTE_COMMANDS.lookUpDocs, "Look Up Docs", () => commands.lookUpDocs()),
    register(PALETTE_COMMANDS.prewarmDocs, "Prewarm Docs", () => commands.prewarmDocs()),
    register(PALETTE_COMMANDS.restartServer, "Restart Server", () =>
      server.restart('"Tether: Restart Server" was run'),
    ),
  ];
}

type RunPick = vscode.QuickPickItem & { run: RunSummary };

class TetherCommands {
  constructor(
    private readonly server: ServerSupervisor,
    private readonly output: vscode.LogOutputChannel,
    private readonly palette: PaletteRuns,
    private readonly documents: TetherDocuments,
  ) {}

  async runWorkflow(): Promise<void> {
    const items = this.server.executeCommand(SERVER_COMMANDS.workflows, {}).then((result) =>
      parseWorkflows(result).map((workflow) => ({
        label: workflow.name,
        description: workflow.source,
        detail: workflow.description || undefined,
      })),
    );
    const picked = await vscode.window.showQuickPick(items, {
      title: "Tether: Run Workflow",
      placeHolder: "Workflow to run",
      matchOnDescription: true,
      matchOnDetail: true,
    });
    if (picked === undefined) {
      return;
    }
    const paramsText = await vscode.window.showInputBox({
      title: `Tether: Run ${picked.label}`,
      prompt: "Parameters as KEY=VALUE pairs separated by spaces (quote values with spaces); empty for the defaults",
      placeHolder: 'target=src message="two words"',
      ignoreFocusOut: true,
      validateInput: paramsProblem,
    });
    if (paramsText === undefined) {
      return;
    }
    const argument = startArguments(picked.label, paramsText);
    // The notification shows at once; the server's progress for the run fills it in.
    const runId = await this.palette.start(
      argument.workflow,
      this.server
        .executeCommand(SERVER_COMMANDS.start, argument)
        .then((result) => parseStartResult(result).run_id),
    );
    this.output.info(`Started workflow ${argument.workflow} as run ${runId}`);
  }

  async resumeRun(argument: unknown): Promise<void> {
    const run = await this.pickRun(argument, isResumable, "Resume Run", "No run can be resumed.");
    if (run === undefined) {
      return;
    }
    let answer: WaitingAnswer | undefined;
    if (run.status === "waiting") {
      answer = await askForResult(run);
      if (answer === undefined) {
        return;
      }
    }
    const resumeArgument = resumeArguments(run.run_id, answer);
    this.output.info(`Resuming run ${run.run_id} (${run.workflow}, ${run.status})`);
    // The server answers when the resumed run ends or pauses; its notification shows until then.
    await this.palette.resume(
      run.workflow,
      run.run_id,
      this.server.executeCommand(SERVER_COMMANDS.resume, resumeArgument),
    );
  }

  async cancelRun(argument: unknown): Promise<void> {
    const run = await this.pickRun(argument, isRunning, "Cancel Run", "No run is running.");
    if (run === undefined) {
      return;
    }
    await this.server.executeCommand(SERVER_COMMANDS.cancel, runIdArguments(run.run_id));
    this.output.info(`Cancelled run ${run.run_id}`);
    vscode.window.setStatusBarMessage(`Tether: cancelled ${run.workflow} (${run.run_id})`, STATUS_MESSAGE_MS);
  }

  async showRuns(argument: unknown): Promise<void> {
    const runId = runIdFromCommandArgument(argument) ?? (await this.pickRun(undefined, () => true, "Show Runs", "No runs yet."))?.run_id;
    if (runId === undefined) {
      return;
    }
    const run = parseShowResult(await this.server.executeCommand(SERVER_COMMANDS.show, runIdArguments(runId)));
    await this.documents.preview("runs", runId, renderRunMarkdown(run));
  }

  async lookUpDocs(): Promise<void> {
    const library = await vscode.window.showInputBox({
      title: "Tether: Look Up Docs (1/2)",
      prompt: "Library (package name as installed, e.g. httpx or react)",
      ignoreFocusOut: true,
      validateInput: (value) => (value.trim() === "" || /\s/.test(value.trim()) ? "Enter one package name" : undefined),
    });
    if (library === undefined) {
      return;
    }
    const query = await vscode.window.showInputBox({
      title: `Tether: Look Up Docs for ${library.trim()} (2/2)`,
      prompt: "What to look up (optional), e.g. 'streaming responses'",
      ignoreFocusOut: true,
    });
    if (query === undefined) {
      return;
    }
    const argument = docsArguments(library, query);
    const docs = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Tether: looking up ${argument.library} docs` },
      async () => parseDocsResult(await this.server.executeCommand(SERVER_COMMANDS.docs, argument)),
    );
    this.output.info(
      `Docs for ${docs.library} ${docs.version ?? "(version unknown)"} from ${docs.provider ?? "an unnamed provider"}`,
    );
    await this.documents.preview("docs", docs.library, docs.markdown);
  }

  async prewarmDocs(): Promise<void> {
    await this.server.executeCommand(SERVER_COMMANDS.prewarm, {});
    vscode.window.setStatusBarMessage("Tether: docs pre-warmed", STATUS_MESSAGE_MS);
  }

  /** The run named by the command's argument, else one the user picks among `include`d runs. */
  private async pickRun(
    argument: unknown,
    include: (run: RunSummary) => boolean,
    title: string,
    noneMessage: string,
  ): Promise<RunSummary | undefined> {
    const runs = parseRuns(await this.server.executeCommand(SERVER_COMMANDS.runs, {}));
    const wanted = runIdFromCommandArgument(argument);
    if (wanted !== undefined) {
      const run = runs.find((candidate) => candidate.run_id === wanted);
      if (run === undefined) {
        throw new ArgumentError(`the server has no run ${wanted}`);
      }
      return run;
    }
    const items: RunPick[] = runs.filter(include).map((run) => ({ ...runPickItem(run), run }));
    if (items.length === 0) {
      void vscode.window.showInformationMessage(`Tether: ${noneMessage}`);
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(items, {
      title: `Tether: ${title}`,
      placeHolder: "Run",
      matchOnDescription: true,
    });
    return picked?.run;
  }
}

/** Asks how to answer a run waiting for an agent step: typed text or a file. */
async function askForResult(run: RunSummary): Promise<WaitingAnswer | undefined> {
  const typeIt = "$(edit) Type the result";
  const chooseFile = "$(file) Choose a result file";
  const how = await vscode.window.showQuickPick([typeIt, chooseFile], {
    title: `Tether: ${run.workflow} (${run.run_id}) is waiting for a result`,
  });
  if (how === typeIt) {
    const text = await vscode.window.showInputBox({
      title: `Tether: result for ${run.workflow} (${run.run_id})`,
      prompt: "The waiting step's result",
      ignoreFocusOut: true,
      validateInput: (value) => (value.trim() === "" ? "The result is empty" : undefined),
    });
    return text === undefined ? undefined : { kind: "text", text };
  }
  if (how === chooseFile) {
    const files = await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: "Use as Result",
      title: `Result file for ${run.workflow} (${run.run_id})`,
    });
    const file = files?.[0];
    return file === undefined ? undefined : { kind: "file", path: file.fsPath };
  }
  return undefined;
}
