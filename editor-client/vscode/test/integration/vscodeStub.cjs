"use strict";
// A stand-in for the `vscode` module, for the integration test that loads the real
// bundled extension (with the real vscode-languageclient) outside VS Code, which cannot
// be downloaded here. The parts the extension's own behaviour goes through (settings,
// commands, quick picks, input boxes, messages, the status bar, opened documents) are
// implemented and scriptable through `__test`; the rest of the API, which only the
// language client touches for features tether does not use, answers with inert values.

class StubDisposable {
  constructor(onDispose) {
    this.onDispose = onDispose;
  }
  static from(...items) {
    return new StubDisposable(() => items.forEach((item) => item?.dispose?.()));
  }
  dispose() {
    this.onDispose?.();
    this.onDispose = undefined;
  }
}

class EventEmitter {
  constructor() {
    this.listeners = new Set();
    this.event = (listener) => {
      this.listeners.add(listener);
      return new StubDisposable(() => this.listeners.delete(listener));
    };
  }
  fire(value) {
    [...this.listeners].forEach((listener) => listener(value));
  }
  dispose() {
    this.listeners.clear();
  }
}

class Uri {
  constructor(scheme, path) {
    this.scheme = scheme;
    this.authority = "";
    this.path = path;
    this.query = "";
    this.fragment = "";
    this.fsPath = path;
  }
  static file(path) {
    return new Uri("file", path);
  }
  static from({ scheme, path }) {
    return new Uri(scheme, path);
  }
  static parse(text) {
    const match = /^([a-z][a-z0-9+.-]*):(?:\/\/)?(.*)$/i.exec(text);
    return match ? new Uri(match[1], match[2]) : new Uri("file", text);
  }
  with() {
    return this;
  }
  toString() {
    return `${this.scheme}://${this.path}`;
  }
  toJSON() {
    return { scheme: this.scheme, path: this.path };
  }
}

/** Any property, call or construction: an inert value that is also a Disposable. */
function inert(name) {
  return new Proxy(function () {}, {
    get(_target, property) {
      if (property === "then") return undefined; // not a promise
      if (property === "dispose") return () => undefined;
      if (property === Symbol.toPrimitive) return () => name;
      return inert(`${name}.${String(property)}`);
    },
    apply() {
      return new StubDisposable();
    },
    construct() {
      return inert(`new ${name}`);
    },
  });
}

function withInertFallback(name, implemented) {
  return new Proxy(implemented, {
    get(target, property) {
      return property in target ? target[property] : inert(`${name}.${String(property)}`);
    },
  });
}

const control = {
  /** Flat settings, e.g. {"tether.logLevel": "debug"}. */
  settings: {},
  /** Answers for the next quick picks: an item, undefined (dismissed) or a function of the items. */
  quickPickAnswers: [],
  /** Answers for the next input boxes: a string or undefined (dismissed). */
  inputBoxAnswers: [],
  openDialogAnswers: [],
  /** Every quick pick shown: {items, options}. */
  quickPicks: [],
  /** Every input box shown: {options, answer, validation}. */
  inputBoxes: [],
  /** Every message shown: {kind, text}; kinds: info, warning, error, status. */
  messages: [],
  /** Opened untitled documents: {language, content}. */
  documents: [],
  /** Registered text document content providers by scheme. */
  contentProviders: new Map(),
  /** Every window.withProgress: {options, reports, ended, cancel()}. */
  progress: [],
  /** Built-in commands the extension ran, e.g. ["markdown.showPreview"]. */
  builtinCommands: [],
  statusBarItems: [],
  commands: new Map(),
  /** The Python extension's API (`exports`) when the test installs one; see usePythonEnvironment. */
  pythonExtension: undefined,
  /** Installs a Python extension whose active environment's interpreter is `executable`. */
  usePythonEnvironment(executable) {
    const changed = new EventEmitter();
    const environment = { id: "env", path: executable };
    control.pythonExtension = {
      ready: Promise.resolve(),
      environments: {
        getActiveEnvironmentPath: () => environment,
        resolveEnvironment: async (path) => ({ id: path.id, path: path.path, executable: { uri: Uri.file(path.path) } }),
        onDidChangeActiveEnvironmentPath: changed.event,
      },
    };
    control.switchPythonEnvironment = (next) => {
      environment.path = next;
      changed.fire({ id: "env", path: next, resource: undefined });
    };
  },
  configurationChanged: new EventEmitter(),
  /** Fires onDidChangeConfiguration for a change under `section`. */
  changeSettings(changes) {
    Object.assign(control.settings, changes);
    const keys = Object.keys(changes);
    control.configurationChanged.fire({
      affectsConfiguration: (section) => keys.some((key) => key === section || key.startsWith(`${section}.`)),
    });
  },
  reset() {
    for (const list of [control.quickPicks, control.inputBoxes, control.messages, control.documents, control.builtinCommands, control.progress]) {
      list.length = 0;
    }
  },
};

function configuration(section) {
  const prefix = section ? `${section}.` : "";
  return {
    get(key, defaultValue) {
      const full = `${prefix}${key}`;
      if (full in control.settings) {
        return control.settings[full];
      }
      // A section asked for as a whole comes back nested, as VS Code returns it.
      const nested = {};
      let found = false;
      for (const [flat, value] of Object.entries(control.settings)) {
        if (flat.startsWith(`${full}.`)) {
          found = true;
          const parts = flat.slice(full.length + 1).split(".");
          let node = nested;
          parts.slice(0, -1).forEach((part) => (node = node[part] ??= {}));
          node[parts[parts.length - 1]] = value;
        }
      }
      return found ? nested : defaultValue;
    },
    has(key) {
      return `${prefix}${key}` in control.settings;
    },
    inspect() {
      return undefined;
    },
    update() {
      return Promise.resolve();
    },
  };
}

function logChannel(name) {
  const lines = [];
  const write = (level) => (message) => lines.push(`[${level}] ${message}`);
  return {
    name,
    lines,
    logLevel: 2,
    onDidChangeLogLevel: () => new StubDisposable(),
    append: (text) => lines.push(text),
    appendLine: (text) => lines.push(text),
    replace() {},
    clear() {},
    show() {},
    hide() {},
    dispose() {},
    trace: write("trace"),
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
  };
}

const workspace = withInertFallback("workspace", {
  get workspaceFolders() {
    return [{ uri: Uri.file(process.cwd()), name: "workspace", index: 0 }];
  },
  getConfiguration: (section) => configuration(section),
  onDidChangeConfiguration: control.configurationChanged.event,
  openTextDocument: async (options) => {
    control.documents.push(options);
    return { uri: new Uri("untitled", `Untitled-${control.documents.length}`), languageId: options.language };
  },
  registerTextDocumentContentProvider: (scheme, provider) => {
    control.contentProviders.set(scheme, provider);
    return new StubDisposable(() => control.contentProviders.delete(scheme));
  },
  textDocuments: [],
  getWorkspaceFolder: () => undefined,
});

const window = withInertFallback("window", {
  createOutputChannel: (name) => {
    const channel = logChannel(name);
    control.output = channel;
    return channel;
  },
  createStatusBarItem: (id) => {
    const item = { id, text: "", tooltip: "", command: undefined, visible: false, show() { this.visible = true; }, hide() { this.visible = false; }, dispose() {} };
    control.statusBarItems.push(item);
    return item;
  },
  showQuickPick: async (items, options) => {
    const resolved = await items;
    control.quickPicks.push({ items: resolved, options });
    const answer = control.quickPickAnswers.shift();
    return typeof answer === "function" ? answer(resolved) : answer;
  },
  showInputBox: async (options) => {
    const answer = control.inputBoxAnswers.shift();
    const validation = answer !== undefined && options?.validateInput ? await options.validateInput(answer) : undefined;
    control.inputBoxes.push({ options, answer, validation });
    // Like VS Code: an answer that fails validation cannot be accepted.
    return validation ? undefined : answer;
  },
  showOpenDialog: async () => control.openDialogAnswers.shift(),
  showInformationMessage: async (text) => void control.messages.push({ kind: "info", text }),
  showWarningMessage: async (text) => void control.messages.push({ kind: "warning", text }),
  showErrorMessage: async (text) => void control.messages.push({ kind: "error", text }),
  setStatusBarMessage: (text) => {
    control.messages.push({ kind: "status", text });
    return new StubDisposable();
  },
  showTextDocument: async (document) => ({ document }),
  withProgress: async (options, task) => {
    const cancelled = new EventEmitter();
    const record = { options, reports: [], ended: false, cancel: () => cancelled.fire() };
    control.progress.push(record);
    try {
      return await task({ report: (value) => record.reports.push(value) }, { isCancellationRequested: false, onCancellationRequested: cancelled.event });
    } finally {
      record.ended = true;
    }
  },
  activeTextEditor: undefined,
  visibleTextEditors: [],
  onDidChangeActiveTextEditor: () => new StubDisposable(),
  onDidChangeVisibleTextEditors: () => new StubDisposable(),
});

const commands = withInertFallback("commands", {
  registerCommand(id, handler) {
    // VS Code refuses a second registration of the same id; so does the stub.
    if (control.commands.has(id)) {
      throw new Error(`command '${id}' already exists`);
    }
    control.commands.set(id, handler);
    return new StubDisposable(() => control.commands.delete(id));
  },
  async executeCommand(id, ...args) {
    const handler = control.commands.get(id);
    if (handler !== undefined) {
      return handler(...args);
    }
    control.builtinCommands.push([id, ...args]);
    return undefined;
  },
  getCommands: async () => [...control.commands.keys()],
});

module.exports = withInertFallback("vscode", {
  __test: control,
  Disposable: StubDisposable,
  EventEmitter,
  Uri,
  workspace,
  window,
  commands,
  extensions: {
    getExtension: (id) =>
      id === "ms-python.python" && control.pythonExtension !== undefined
        ? { id, isActive: true, activate: async () => control.pythonExtension, exports: control.pythonExtension }
        : undefined,
    all: [],
    onDidChange: () => new StubDisposable(),
  },
  env: { appName: "vscode-stub", language: "en", machineId: "stub", sessionId: "stub", uiKind: 1, openExternal: async () => true },
  version: "1.82.0",
  StatusBarAlignment: { Left: 1, Right: 2 },
  ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
  CancellationTokenSource: class {
    constructor() {
      this.token = { isCancellationRequested: false, onCancellationRequested: () => new StubDisposable() };
    }
    cancel() {}
    dispose() {}
  },
});
