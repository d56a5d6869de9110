// Starts, stops and restarts the language server (`<python> -m tether serve` over
// stdio). Restarts are serialised and coalesced: a burst of settings changes gives
// one restart, never two servers at once.

import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  RevealOutputChannelOn,
  State,
  type DynamicFeature,
  type LanguageClientOptions,
  type ServerOptions,
  type StaticFeature,
} from "vscode-languageclient/node";
import { ProgressFeature } from "vscode-languageclient/lib/common/progress";
import { CrashLimiter } from "./crashLimiter";
import { chooseServerLaunch, describeLaunch, readInterpreterSetting, type ServerLaunch } from "./interpreter";
import { LevelledOutputChannel } from "./levelledOutput";
import type { PythonEnvironmentSource } from "./pythonEnvironment";
import { TetherProgressFeature, type OtherRunsPresentation, type PaletteRuns } from "./runProgress";
import { readTetherSettings, SETTINGS_SECTION } from "./settingsReader";
import { configurationSection, toInitializationOptions } from "./settingsMapping";

export const RUN_STATUS_NOTIFICATION = "tether/runStatus";

// Files whose saves the server turns into docs pre-warming, plus workflow files.
const DOCUMENT_SELECTOR = [
  { scheme: "file", pattern: "**/pyproject.toml" },
  { scheme: "file", pattern: "**/requirements*.txt" },
  { scheme: "file", pattern: "**/package.json" },
  { scheme: "file", pattern: "**/.tether/workflows/*.toml" },
];

const STOP_TIMEOUT_MS = 2000;
// A server that never answers `initialize` must not leave the extension waiting forever.
const START_TIMEOUT_MS = 30_000;

export class ServerNotRunningError extends Error {
  override name = "ServerNotRunningError";
  constructor() {
    super('the language server is not running (see the "Tether" output; "Tether: Restart Server" starts it)');
  }
}

export interface ServerEvents {
  /** Raw params of each `tether/runStatus` notification. */
  onRunStatus(params: unknown): void;
  /** The server stopped (restart, crash or shutdown): its runs no longer report. */
  onServerStopped(): void;
}

/** Who presents run progress: the palette's notifications, else the setting for other runs. */
export interface ProgressPresentation {
  palette: PaletteRuns;
  otherRuns(): OtherRunsPresentation;
}

export class ServerSupervisor implements vscode.Disposable {
  private client: TetherLanguageClient | undefined;
  private queue: Promise<void> = Promise.resolve();
  private restartQueued = false;
  private disposed = false;

  constructor(
    private readonly output: vscode.LogOutputChannel,
    private readonly python: PythonEnvironmentSource,
    private readonly events: ServerEvents,
    private readonly progress: ProgressPresentation,
  ) {}

  start(): Promise<void> {
    return this.enqueue(() => this.startClient());
  }

  /** Restarts with freshly read settings; requests made while one is queued join it. */
  restart(reason: string): Promise<void> {
    this.output.info(`Restarting the language server: ${reason}`);
    if (this.restartQueued) {
      return this.queue;
    }
    this.restartQueued = true;
    return this.enqueue(async () => {
      this.restartQueued = false;
      await this.stopClient();
      await this.startClient();
    });
  }

  stop(): Promise<void> {
    this.disposed = true;
    return this.enqueue(() => this.stopClient());
  }

  dispose(): void {
    void this.stop();
  }

  /** Sends `workspace/executeCommand` with the one object argument the server expects. */
  async executeCommand(command: string, argument: object): Promise<unknown> {
    // A start or restart in progress is bounded (START_TIMEOUT_MS), so waiting for it is safe.
    await this.queue;
    const client = this.client;
    if (client?.state === State.Starting) {
      // The client restarts a crashed server by itself; wait for that too, equally bounded.
      await withTimeout(settled(client), START_TIMEOUT_MS, "the restarted server did not answer initialize");
    }
    if (client === undefined || !client.isRunning()) {
      throw new ServerNotRunningError();
    }
    return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [argument] });
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    // The queue never rejects: a failed start is reported here, and the next job still runs.
    this.queue = this.queue.then(job).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      this.output.error(`Language server start/stop failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
      void vscode.window.showErrorMessage(`Tether: the language server could not be started or stopped: ${message}`);
    });
    return this.queue;
  }

  private async startClient(): Promise<void> {
    if (this.disposed) {
      return;
    }
    const folder = vscode.workspace.workspaceFolders?.[0];
    const settings = readTetherSettings(folder?.uri);
    const interpreter = readInterpreterSetting(settings["tether.interpreter"]);
    const mapped = toInitializationOptions(settings);
    const problems = interpreter.problem === undefined ? mapped.problems : [interpreter.problem, ...mapped.problems];
    if (problems.length > 0) {
      problems.forEach((problem) => this.output.warn(problem));
      void vscode.window.showWarningMessage(`Tether: ${problems.join("; ")}`);
    }
    const launch = chooseServerLaunch({
      configured: interpreter.command,
      activeEnvironmentExecutable:
        interpreter.command.length === 0 ? await this.python.activeExecutable(folder?.uri) : undefined,
      platform: process.platform,
      workspaceFolder: folder?.uri.fsPath,
    });
    this.output.info(`Starting the language server: ${describeLaunch(launch)}`);

    const serverOptions: ServerOptions = {
      command: launch.command,
      args: launch.args,
      options: folder === undefined ? {} : { cwd: folder.uri.fsPath },
    };
    const crashes = new CrashLimiter();
    const clientOptions: LanguageClientOptions = {
      documentSelector: DOCUMENT_SELECTOR,
      // The library writes "[Info  - 10:23:45] ..." lines; a log channel adds its own
      // timestamp and level, so they are unwrapped into levelled entries.
      outputChannel: new LevelledOutputChannel(this.output),
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: mapped.options,
      initializationFailedHandler: () => false,
      errorHandler: crashes,
      middleware: {
        workspace: {
          // Sections under `tether` are answered in the initializationOptions shape, read afresh.
          configuration: async (params, token, next) => {
            const answers = await next(params, token);
            if (!Array.isArray(answers)) {
              return answers;
            }
            return params.items.map((item, index) => {
              const section = item.section ?? "";
              if (section !== SETTINGS_SECTION && !section.startsWith(`${SETTINGS_SECTION}.`)) {
                return answers[index] as unknown;
              }
              const scope = item.scopeUri === undefined ? folder?.uri : vscode.Uri.parse(item.scopeUri);
              return configurationSection(section, toInitializationOptions(readTetherSettings(scope)).options);
            });
          },
        },
      },
    };
    const client = new TetherLanguageClient("tether", "Tether", serverOptions, clientOptions);
    client.registerFeature(new TetherProgressFeature(client, this.progress.palette, () => this.progress.otherRuns()));
    client.onNotification(RUN_STATUS_NOTIFICATION, (params: unknown) => this.events.onRunStatus(params));
    client.onDidChangeState((change) => {
      if (change.newState === State.Stopped || change.newState === State.Starting) {
        this.events.onServerStopped();
      }
    });
    try {
      await withTimeout(client.start(), START_TIMEOUT_MS, "the server did not answer initialize");
      crashes.markRunning();
      client.hasStarted = true;
      this.client = client;
      this.output.info("The language server is running");
    } catch (error) {
      this.output.error(`The language server did not start with ${describeLaunch(launch)}: ${String(error)}`);
      await disposeQuietly(client, this.output);
      void this.explainStartFailure(launch);
    }
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      await disposeQuietly(client, this.output);
    }
  }

  private async explainStartFailure(launch: ServerLaunch): Promise<void> {
    const hint =
      launch.origin === "setting"
        ? "Check the tether.interpreter setting."
        : "Install tether in that environment, choose another Python environment, or set tether.interpreter.";
    const openSettings = "Open Settings";
    const showOutput = "Show Output";
    const choice = await vscode.window.showErrorMessage(
      `Tether: the language server did not start with ${describeLaunch(launch)}. ${hint}`,
      openSettings,
      showOutput,
    );
    if (choice === openSettings) {
      await vscode.commands.executeCommand("workbench.action.openSettings", "tether.interpreter");
    } else if (choice === showOutput) {
      this.output.show();
    }
  }
}

async function withTimeout<T>(promise: Promise<T>, milliseconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${milliseconds / 1000} s`)), milliseconds);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when the client leaves the Starting state, whichever way. */
function settled(client: LanguageClient): Promise<void> {
  return new Promise((resolve) => {
    const listener = client.onDidChangeState((change) => {
      if (change.newState !== State.Starting) {
        listener.dispose();
        resolve();
      }
    });
  });
}

/**
 * Until the first start succeeds, the library's own notifications ("couldn't create
 * connection to server") only go to the log: explainStartFailure says the same thing once,
 * naming the command and what to change.
 */
class TetherLanguageClient extends LanguageClient {
  hasStarted = false;

  // Called from the base constructor: the library's progress feature is left out, and
  // TetherProgressFeature (registered right after construction) takes its place.
  override registerFeature(feature: StaticFeature | DynamicFeature<unknown>): void {
    if (!(feature instanceof ProgressFeature)) {
      super.registerFeature(feature);
    }
  }

  override error(message: string, data?: unknown, showNotification: boolean | "force" = true): void {
    super.error(message, data, this.hasStarted ? showNotification : false);
  }
}

async function disposeQuietly(client: LanguageClient, output: vscode.LogOutputChannel): Promise<void> {
  try {
    await client.dispose(STOP_TIMEOUT_MS);
  } catch (error) {
    // A server that already died cannot be shut down cleanly; that is the goal anyway.
    output.debug(`Stopping the language server: ${String(error)}`);
  }
}
