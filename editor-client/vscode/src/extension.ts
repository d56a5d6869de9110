// Entry point: wires the language server, palette commands, status bar item and
// restart triggers together.

import * as vscode from "vscode";
import { registerCommands } from "./commands";
import { SERVER_COMMANDS } from "./commandIds";
import { readInterpreterSetting } from "./interpreter";
import { PythonEnvironmentSource } from "./pythonEnvironment";
import { OTHER_RUNS_SETTING, PaletteRuns, readOtherRunsSetting } from "./runProgress";
import { RunStatusBoard } from "./runStatusBoard";
import { RunStatusItem } from "./runStatusItem";
import { parseRunStatus } from "./serverResults";
import { ServerSupervisor } from "./serverSupervisor";
import { SERVER_SETTING_KEYS } from "./settingsMapping";
import { readTetherSettings, SETTINGS_SECTION } from "./settingsReader";
import { registerTetherDocuments } from "./tetherDocuments";

// VS Code's deactivate() takes no arguments, yet must await the server's shutdown;
// this is the one place the running supervisor is kept between the two calls.
let activeSupervisor: ServerSupervisor | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel("Tether", { log: true });
  const python = new PythonEnvironmentSource(output);
  const statusItem = new RunStatusItem(new RunStatusBoard());
  const palette = new PaletteRuns(async (runId) => {
    await supervisor.executeCommand(SERVER_COMMANDS.cancel, { run_id: runId });
  });
  const supervisor = new ServerSupervisor(
    output,
    python,
    {
      onRunStatus: (params) => {
        try {
          const update = parseRunStatus(params);
          statusItem.update(update);
          if (update.status !== "running") {
            // Normally the run's progress has ended its notification already.
            palette.finished(update.run_id);
          }
        } catch (error) {
          // A malformed notification is the server's bug; the status bar keeps its last state.
          output.warn(`Ignoring a malformed tether/runStatus notification: ${String(error)}`);
        }
      },
      onServerStopped: () => {
        statusItem.clear();
        palette.clear();
      },
    },
    {
      palette,
      otherRuns: () =>
        readOtherRunsSetting(vscode.workspace.getConfiguration(SETTINGS_SECTION).get(OTHER_RUNS_SETTING)),
    },
  );
  activeSupervisor = supervisor;
  const { documents, registration } = registerTetherDocuments();
  context.subscriptions.push(
    output,
    statusItem,
    supervisor,
    documents,
    registration,
    ...registerCommands(supervisor, output, palette, documents),
  );

  // Only settings the server or its launch depend on restart it (not presentation ones).
  const restartKeys = [...SERVER_SETTING_KEYS, "tether.interpreter"];
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (restartKeys.some((key) => event.affectsConfiguration(key))) {
        void supervisor.restart("tether settings changed");
      }
    }),
  );
  // The Python extension can take seconds to activate; activation does not wait for it.
  void python
    .watchActiveEnvironment(() => {
      const folder = vscode.workspace.workspaceFolders?.[0];
      // tether.interpreter wins over the Python extension, so its changes do not matter then.
      if (readInterpreterSetting(readTetherSettings(folder?.uri)["tether.interpreter"]).command.length === 0) {
        void supervisor.restart("the Python extension's active environment changed");
      }
    })
    .then((watch) => {
      if (watch !== undefined) {
        context.subscriptions.push(watch);
      }
    });

  // Activation does not wait for the server either: commands wait for a start in progress.
  void supervisor.start();
}

export async function deactivate(): Promise<void> {
  const supervisor = activeSupervisor;
  activeSupervisor = undefined;
  await supervisor?.stop();
}
