// Reads the Python extension's active environment through its public API, when that
// extension is installed. Without it, every method answers "nothing".

import { PythonExtension } from "@vscode/python-extension";
import * as vscode from "vscode";

export const PYTHON_EXTENSION_ID = "ms-python.python";

export class PythonEnvironmentSource {
  private api: Promise<PythonExtension | undefined> | undefined;

  constructor(private readonly output: vscode.LogOutputChannel) {}

  /** The active environment's interpreter for `resource`, or undefined when unknown. */
  async activeExecutable(resource: vscode.Uri | undefined): Promise<string | undefined> {
    const api = await this.loadApi();
    if (api === undefined) {
      return undefined;
    }
    try {
      const path = api.environments.getActiveEnvironmentPath(resource);
      const environment = await api.environments.resolveEnvironment(path);
      const executable = environment?.executable.uri?.fsPath;
      if (executable === undefined) {
        this.output.warn(`The Python extension's active environment ${path.path} has no interpreter; not using it`);
      }
      return executable;
    } catch (error) {
      // A broken environment must not stop the server from starting with the default.
      this.output.warn(`Could not resolve the Python extension's active environment: ${String(error)}`);
      return undefined;
    }
  }

  /** Calls `listener` whenever the active environment changes; undefined without the extension. */
  async watchActiveEnvironment(listener: () => void): Promise<vscode.Disposable | undefined> {
    const api = await this.loadApi();
    return api?.environments.onDidChangeActiveEnvironmentPath(listener);
  }

  private loadApi(): Promise<PythonExtension | undefined> {
    this.api ??= this.activateExtension();
    return this.api;
  }

  private async activateExtension(): Promise<PythonExtension | undefined> {
    if (vscode.extensions.getExtension(PYTHON_EXTENSION_ID) === undefined) {
      this.output.info("The Python extension is not installed; using tether.interpreter or the default interpreter");
      return undefined;
    }
    try {
      return await PythonExtension.api();
    } catch (error) {
      this.output.warn(`The Python extension did not activate: ${String(error)}; using the default interpreter`);
      return undefined;
    }
  }
}
