// Chooses the command that starts the language server. Pure (no `vscode` import).
//
// Order: the `tether.interpreter` setting, else the Python extension's active
// environment, else `python3` (`python` on Windows, where `python3` is often the
// Microsoft Store stub).

export const SERVER_MODULE_ARGS: readonly string[] = ["-m", "tether", "serve"];

export type InterpreterOrigin = "setting" | "python-extension" | "default";

export interface ServerLaunch {
  command: string;
  args: string[];
  origin: InterpreterOrigin;
}

export interface InterpreterSetting {
  /** Command and arguments, e.g. `["uv", "run", "python"]`; empty when unset or invalid. */
  command: string[];
  /** Why the setting was ignored, when it was. */
  problem: string | undefined;
}

/** Validates the raw `tether.interpreter` value (settings.json may hold anything). */
export function readInterpreterSetting(value: unknown): InterpreterSetting {
  if (value === undefined || value === null) {
    return { command: [], problem: undefined };
  }
  // A plain string is the commonest mistake; it means one executable path.
  if (typeof value === "string") {
    return value.trim() === "" ? { command: [], problem: undefined } : { command: [value], problem: undefined };
  }
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === "string")) {
    return {
      command: [],
      problem: `tether.interpreter: ${JSON.stringify(value)} is not a list of strings; ignoring it`,
    };
  }
  if (value.length > 0 && value[0].trim() === "") {
    return { command: [], problem: "tether.interpreter: the first entry (the executable) is empty; ignoring it" };
  }
  return { command: [...value], problem: undefined };
}

export interface LaunchInputs {
  /** Validated `tether.interpreter` (see readInterpreterSetting). */
  configured: readonly string[];
  /** Executable of the Python extension's active environment, when it has one. */
  activeEnvironmentExecutable: string | undefined;
  platform: NodeJS.Platform;
  /** Replaces `${workspaceFolder}` in the configured command. */
  workspaceFolder: string | undefined;
}

export function chooseServerLaunch(inputs: LaunchInputs): ServerLaunch {
  if (inputs.configured.length > 0) {
    const [command, ...rest] = inputs.configured.map((part) => expandWorkspaceFolder(part, inputs.workspaceFolder));
    return { command, args: [...rest, ...SERVER_MODULE_ARGS], origin: "setting" };
  }
  const active = inputs.activeEnvironmentExecutable;
  if (active !== undefined && active.trim() !== "") {
    return { command: active, args: [...SERVER_MODULE_ARGS], origin: "python-extension" };
  }
  return {
    command: inputs.platform === "win32" ? "python" : "python3",
    args: [...SERVER_MODULE_ARGS],
    origin: "default",
  };
}

const ORIGIN_DESCRIPTIONS: Readonly<Record<InterpreterOrigin, string>> = {
  setting: "from tether.interpreter",
  "python-extension": "the Python extension's active environment",
  default: "the default interpreter",
};

/** One line for logs and error messages: `"/v/bin/python -m tether serve (from tether.interpreter)"`. */
export function describeLaunch(launch: ServerLaunch): string {
  const quoted = [launch.command, ...launch.args].map((part) => (/\s/.test(part) ? JSON.stringify(part) : part));
  return `${quoted.join(" ")} (${ORIGIN_DESCRIPTIONS[launch.origin]})`;
}

function expandWorkspaceFolder(part: string, workspaceFolder: string | undefined): string {
  if (workspaceFolder === undefined) {
    return part;
  }
  return part.split("${workspaceFolder}").join(workspaceFolder);
}
