// Builds the single object argument of each `workspace/executeCommand` the extension
// sends (`arguments: [ { ... } ]`). Pure (no `vscode` import).

export interface StartArguments {
  workflow: string;
  params: Record<string, string>;
}

export interface RunIdArguments {
  run_id: string;
}

export type ResumeArguments = RunIdArguments | (RunIdArguments & { result: string }) | (RunIdArguments & { result_file: string });

/** How the user answers a run that is `waiting` for an agent step's result. */
export type WaitingAnswer = { kind: "text"; text: string } | { kind: "file"; path: string };

export interface DocsArguments {
  library: string;
  query?: string;
}

export class ArgumentError extends Error {
  override name = "ArgumentError";
}

// The journal's rule for run ids; anything else is refused before it reaches the server.
const RUN_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const PARAM_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Parses `KEY=VALUE KEY2="a value"` into params. Pairs are separated by whitespace;
 * single or double quotes keep whitespace (inside double quotes `\"` and `\\` escape).
 * Throws ArgumentError naming the malformed pair and its position.
 */
export function parseParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  splitWords(text).forEach((word, index) => {
    const where = `parameter ${index + 1} (${JSON.stringify(word.raw)})`;
    const equals = word.value.indexOf("=");
    if (word.quotedBeforeEquals) {
      throw new ArgumentError(`${where}: quote only the value, as KEY="a value"`);
    }
    if (equals < 0) {
      throw new ArgumentError(`${where}: expected KEY=VALUE`);
    }
    const key = word.value.slice(0, equals);
    if (key === "") {
      throw new ArgumentError(`${where}: the key before "=" is empty`);
    }
    if (!PARAM_KEY_PATTERN.test(key)) {
      throw new ArgumentError(`${where}: key ${JSON.stringify(key)} must start with a letter or "_" and contain only letters, digits, "_", "-" or "."`);
    }
    if (Object.hasOwn(params, key)) {
      throw new ArgumentError(`${where}: ${key} is given twice`);
    }
    params[key] = word.value.slice(equals + 1);
  });
  return params;
}

/** For an input box: the error message, or undefined when the text parses. */
export function paramsProblem(text: string): string | undefined {
  try {
    parseParams(text);
    return undefined;
  } catch (error) {
    if (error instanceof ArgumentError) {
      return error.message;
    }
    throw error;
  }
}

export function startArguments(workflow: string, paramsText: string): StartArguments {
  const name = workflow.trim();
  if (name === "") {
    throw new ArgumentError("workflow name is empty");
  }
  return { workflow: name, params: parseParams(paramsText) };
}

export function runIdArguments(runId: string): RunIdArguments {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new ArgumentError(`run id ${JSON.stringify(runId)} is not a valid run id`);
  }
  return { run_id: runId };
}

/**
 * The run a command was invoked for, when it was invoked with `[{run_id}]` (as the
 * status bar item does); undefined when invoked from the palette with no argument.
 */
export function runIdFromCommandArgument(argument: unknown): string | undefined {
  if (argument === undefined || argument === null) {
    return undefined;
  }
  const runId = typeof argument === "object" ? (argument as Record<string, unknown>).run_id : undefined;
  if (typeof runId !== "string") {
    throw new ArgumentError(`expected an argument {"run_id": "..."}, got ${JSON.stringify(argument)}`);
  }
  return runIdArguments(runId).run_id;
}

export function resumeArguments(runId: string, answer?: WaitingAnswer): ResumeArguments {
  const base = runIdArguments(runId);
  if (answer === undefined) {
    return base;
  }
  if (answer.kind === "text") {
    return { ...base, result: answer.text };
  }
  if (answer.path.trim() === "") {
    throw new ArgumentError("result file path is empty");
  }
  return { ...base, result_file: answer.path };
}

export function docsArguments(library: string, query: string): DocsArguments {
  const name = library.trim();
  if (name === "") {
    throw new ArgumentError("library name is empty");
  }
  if (/\s/.test(name)) {
    throw new ArgumentError(`library name ${JSON.stringify(name)} contains whitespace`);
  }
  const trimmedQuery = query.trim();
  return trimmedQuery === "" ? { library: name } : { library: name, query: trimmedQuery };
}

interface Word {
  /** The text as typed, for error messages. */
  raw: string;
  /** The text with quotes removed and escapes applied. */
  value: string;
  /** A quote opened before the first "=": the key itself was quoted, which is not allowed. */
  quotedBeforeEquals: boolean;
}

function splitWords(text: string): Word[] {
  const words: Word[] = [];
  let index = 0;
  while (index < text.length) {
    while (index < text.length && /\s/.test(text[index])) {
      index += 1;
    }
    if (index >= text.length) {
      break;
    }
    const start = index;
    let value = "";
    let seenEquals = false;
    let quotedBeforeEquals = false;
    while (index < text.length && !/\s/.test(text[index])) {
      const char = text[index];
      if (char === '"' || char === "'") {
        if (!seenEquals) {
          quotedBeforeEquals = true;
        }
        const close = readQuoted(text, index);
        value += close.value;
        index = close.end;
        continue;
      }
      if (char === "=") {
        seenEquals = true;
      }
      value += char;
      index += 1;
    }
    words.push({ raw: text.slice(start, index), value, quotedBeforeEquals });
  }
  return words;
}

function readQuoted(text: string, open: number): { value: string; end: number } {
  const quote = text[open];
  let value = "";
  let index = open + 1;
  while (index < text.length) {
    const char = text[index];
    if (char === quote) {
      return { value, end: index + 1 };
    }
    if (quote === '"' && char === "\\" && (text[index + 1] === '"' || text[index + 1] === "\\")) {
      value += text[index + 1];
      index += 2;
      continue;
    }
    value += char;
    index += 1;
  }
  throw new ArgumentError(`unterminated ${quote} quote starting at column ${open + 1}`);
}
