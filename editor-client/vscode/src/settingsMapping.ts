// Maps the extension's flat `tether.*` settings to the language server's
// initializationOptions. Pure (no `vscode` import): the same mapping is checked
// against editor-client/shared/settings-mapping.json by the TypeScript tests and by
// the server's pytest-lsp test, so the two sides cannot drift.

export const LOG_LEVELS = ["error", "warning", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DOCS_PROVIDERS = ["local", "context7"] as const;
export type DocsProvider = (typeof DOCS_PROVIDERS)[number];

export interface InitializationOptions {
  /** Seconds between progress reports while a run is active. */
  progressInterval: number;
  prewarm: { onStart: boolean; onSave: boolean };
  docs: { providers: DocsProvider[]; offline: boolean };
  /** `null` means "use CONTEXT7_API_URL or the provider's default". */
  context7: { url: string | null };
  /** Duration string such as "50s", used when a run is started without a budget. */
  defaultBudget: string;
  logLevel: LogLevel;
}

/** The settings sent to the server, as flat keys under the `tether.` section. */
export const SERVER_SETTING_KEYS = [
  "tether.progressInterval",
  "tether.prewarm.onStart",
  "tether.prewarm.onSave",
  "tether.docs.providers",
  "tether.docs.offline",
  "tether.context7.url",
  "tether.defaultBudget",
  "tether.logLevel",
] as const;
export type ServerSettingKey = (typeof SERVER_SETTING_KEYS)[number];

/** Client-only settings: read by the extension, never sent to the server. */
export const CLIENT_SETTING_KEYS = ["tether.interpreter", "tether.progress.otherRuns"] as const;

export const MIN_PROGRESS_INTERVAL = 0.5;

export const SETTING_DEFAULTS: Readonly<Record<ServerSettingKey, unknown>> = {
  "tether.progressInterval": 5,
  "tether.prewarm.onStart": true,
  "tether.prewarm.onSave": true,
  "tether.docs.providers": ["local", "context7"],
  "tether.docs.offline": false,
  "tether.context7.url": "",
  "tether.defaultBudget": "50s",
  "tether.logLevel": "info",
};

// Same forms as the engine's durations: "250ms", "2s", "5m", "1h" or plain seconds.
const DURATION_PATTERN = /^\d+(\.\d+)?(ms|s|m|h)?$/;

export interface MappedSettings {
  options: InitializationOptions;
  /** One line per setting whose value was invalid and replaced by its default. */
  problems: string[];
}

/**
 * Builds initializationOptions from flat settings (`{"tether.logLevel": "debug", ...}`).
 * A missing key takes its default; an invalid value falls back to its default and is
 * reported in `problems`, naming the setting and the value.
 */
export function toInitializationOptions(settings: Readonly<Record<string, unknown>>): MappedSettings {
  const problems: string[] = [];
  const read = <T>(key: ServerSettingKey, check: (value: unknown) => T | undefined, expected: string): T => {
    const fallback = check(SETTING_DEFAULTS[key]) as T;
    if (!(key in settings) || settings[key] === undefined || settings[key] === null) {
      return fallback;
    }
    const value = settings[key];
    const checked = check(value);
    if (checked === undefined) {
      problems.push(
        `${key}: ${JSON.stringify(value)} is not ${expected}; using the default ${JSON.stringify(fallback)}`,
      );
      return fallback;
    }
    return checked;
  };

  const options: InitializationOptions = {
    progressInterval: read("tether.progressInterval", checkProgressInterval, `a number of seconds >= ${MIN_PROGRESS_INTERVAL}`),
    prewarm: {
      onStart: read("tether.prewarm.onStart", checkBoolean, "true or false"),
      onSave: read("tether.prewarm.onSave", checkBoolean, "true or false"),
    },
    docs: {
      providers: read("tether.docs.providers", checkProviders, `a list of ${DOCS_PROVIDERS.map((p) => `"${p}"`).join(" or ")}`),
      offline: read("tether.docs.offline", checkBoolean, "true or false"),
    },
    context7: {
      url: read("tether.context7.url", checkUrl, "an http(s) URL or empty"),
    },
    defaultBudget: read("tether.defaultBudget", checkDuration, 'a duration such as "50s", "2m" or "250ms"'),
    logLevel: read("tether.logLevel", checkLogLevel, `one of ${LOG_LEVELS.join(", ")}`),
  };
  return { options, problems };
}

/**
 * The answer to `workspace/configuration` for a section under `tether`: the same shape
 * as initializationOptions ("tether" is all of it, "tether.docs" its `docs` part), so the
 * server reads one shape either way and client-only settings are never sent. Null for a
 * section that has no counterpart.
 */
export function configurationSection(section: string, options: InitializationOptions): unknown {
  if (section === "tether") {
    return options;
  }
  let node: unknown = options;
  for (const part of section.split(".").slice(1)) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, part)) {
      return null;
    }
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function checkBoolean(value: unknown): boolean | undefined {
  return typeof value === "boolean" ? value : undefined;
}

function checkProgressInterval(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= MIN_PROGRESS_INTERVAL ? value : undefined;
}

function checkProviders(value: unknown): DocsProvider[] | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  const providers: DocsProvider[] = [];
  for (const item of value) {
    if (!isDocsProvider(item)) {
      return undefined;
    }
    // Order is the lookup order; a repeated provider would only be asked twice.
    if (!providers.includes(item)) {
      providers.push(item);
    }
  }
  return providers;
}

function isDocsProvider(value: unknown): value is DocsProvider {
  return typeof value === "string" && (DOCS_PROVIDERS as readonly string[]).includes(value);
}

// `null` is a valid outcome here, so "invalid" is signalled with `undefined` only.
function checkUrl(value: unknown): string | null | undefined {
  if (typeof value !== "string") {
    return undefined;
  }
  const trimmed = value.trim();
  if (trimmed === "") {
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    return undefined;
  }
  return parsed.protocol === "http:" || parsed.protocol === "https:" ? trimmed : undefined;
}

function checkDuration(value: unknown): string | undefined {
  if (typeof value !== "string") {
    return undefined;
  }
  const trimmed = value.trim();
  return DURATION_PATTERN.test(trimmed) ? trimmed : undefined;
}

function checkLogLevel(value: unknown): LogLevel | undefined {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value)
    ? (value as LogLevel)
    : undefined;
}
