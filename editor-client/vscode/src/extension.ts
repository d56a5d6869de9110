// Entry point: wires the language server, palette commands, status bar item and
// restart triggers together.

import * as vscode from "vscode";
import { registerCommands } from "./commands";
import { readInterpreterSetting } from "./interpreter";
import { PythonEnvironmentSource } from "./pythonEnvironment";
import { RunStatusBoard } from "./runStatusBoard";
import { RunStatusItem } from "./runStatusItem";
import { parseRunStatus } from "./serverResults";
import { ServerSupervisor } from "./serverSupervisor";
import { readTetherSettings, SETTINGS_SECTION } from "./settingsReader";

// VS Code's deactivate() takes no arguments, yet must await the server's shutdown;
// this is the one place the running supervisor is kept between the two calls.
let activeSupervisor: ServerSupervisor | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel("Tether", { log: true });
  const python = new PythonEnvironmentSource(output);
  const statusItem = new RunStatusItem(new RunStatusBoard());
  const supervisor = new ServerSupervisor(output, python, {
    onRunStatus: (params) => {
      try {
        statusItem.update(parseRunStatus(params));
      } catch (error) {
        // A malformed notification is the server's bug; the status bar keeps its last state.
        output.warn(`Ignoring a malformed tether/runStatus notification: ${String(error)}`);
      }
    },
    onServerStopped: () => statusItem.clear(),
  });
  activeSupervisor = supervisor;
  context.subscriptions.push(output, statusItem, supervisor, ...registerCommands(supervisor, output));

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(SETTINGS_SECTION)) {
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
