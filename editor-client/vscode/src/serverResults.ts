// Checks what the language server returns before the UI uses it, so a garbage or
// out-of-date response becomes one clear message instead of `undefined` in a quick
// pick. Pure (no `vscode` import).

export interface WorkflowInfo {
  name: string;
  description: string;
  source: string;
}

export interface RunSummary {
  run_id: string;
  workflow: string;
  status: string;
  age_seconds: number | null;
  duration_ms: number | null;
}

export interface StartResult {
  run_id: string;
}

export interface DocsResult {
  markdown: string;
  library: string;
  version: string | null;
  provider: string | null;
}

/** Params of the `tether/runStatus` notification, sent on each run transition. */
export interface RunStatusUpdate {
  run_id: string;
  workflow: string;
  status: string;
  step: string | undefined;
  message: string | undefined;
}

export class ServerResultError extends Error {
  override name = "ServerResultError";
}

export function parseWorkflows(value: unknown): WorkflowInfo[] {
  return listOf("tether.workflows", value, (item, where) => ({
    name: requiredString(item, "name", where),
    description: optionalString(item, "description", where) ?? "",
    source: optionalString(item, "source", where) ?? "",
  }));
}

export function parseRuns(value: unknown): RunSummary[] {
  return listOf("tether.runs", value, (item, where) => ({
    run_id: requiredString(item, "run_id", where),
    workflow: requiredString(item, "workflow", where),
    status: requiredString(item, "status", where),
    age_seconds: optionalNumber(item, "age_seconds", where),
    duration_ms: optionalNumber(item, "duration_ms", where),
  }));
}

export function parseStartResult(value: unknown): StartResult {
  const where = "tether.start result";
  return { run_id: requiredString(objectAt(value, where), "run_id", where) };
}

export function parseDocsResult(value: unknown): DocsResult {
  const where = "tether.docs result";
  const item = objectAt(value, where);
  return {
    markdown: requiredString(item, "markdown", where),
    library: requiredString(item, "library", where),
    version: optionalString(item, "version", where),
    provider: optionalString(item, "provider", where),
  };
}

export function parseRunStatus(value: unknown): RunStatusUpdate {
  const where = "tether/runStatus notification";
  const item = objectAt(value, where);
  return {
    run_id: requiredString(item, "run_id", where),
    workflow: requiredString(item, "workflow", where),
    status: requiredString(item, "status", where),
    step: optionalString(item, "step", where) ?? undefined,
    message: optionalString(item, "message", where) ?? undefined,
  };
}

/** `tether.show` returns the run as JSON; only an object is required. */
export function parseShowResult(value: unknown): Record<string, unknown> {
  return objectAt(value, "tether.show result");
}

function listOf<T>(command: string, value: unknown, parse: (item: Record<string, unknown>, where: string) => T): T[] {
  if (!Array.isArray(value)) {
    throw new ServerResultError(`${command} returned ${describe(value)}, expected a list`);
  }
  return value.map((item, index) => {
    const where = `${command} item ${index + 1}`;
    return parse(objectAt(item, where), where);
  });
}

function objectAt(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ServerResultError(`${where} is ${describe(value)}, expected an object`);
  }
  return value as Record<string, unknown>;
}

function requiredString(item: Record<string, unknown>, field: string, where: string): string {
  const value = item[field];
  if (typeof value !== "string" || value === "") {
    throw new ServerResultError(`${where}: "${field}" is ${describe(value)}, expected a non-empty string`);
  }
  return value;
}

function optionalString(item: Record<string, unknown>, field: string, where: string): string | null {
  const value = item[field];
  if (value === undefined || value === null) {
    return null;
  }
  if (typeof value !== "string") {
    throw new ServerResultError(`${where}: "${field}" is ${describe(value)}, expected a string`);
  }
  return value;
}

function optionalNumber(item: Record<string, unknown>, field: string, where: string): number | null {
  const value = item[field];
  if (value === undefined || value === null) {
    return null;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ServerResultError(`${where}: "${field}" is ${describe(value)}, expected a number`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) {
    return "missing";
  }
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
