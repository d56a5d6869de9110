// vscode-languageclient writes its messages (and the server's window/logMessage) to the
// output channel as "[Info  - 10:23:45 AM] text". Into a log output channel, which adds
// its own timestamp and level, that gave two timestamps and every line at level info;
// this channel unwraps them into properly levelled entries.

import type * as vscode from "vscode";

const LIBRARY_LINE = /^\[(Trace|Debug|Info|Warn|Error)\s*- [^\]]*\] ?([\s\S]*)$/;

type Level = "trace" | "debug" | "info" | "warn" | "error";

const LEVELS: Readonly<Record<string, Level>> = {
  Trace: "trace",
  Debug: "debug",
  Info: "info",
  Warn: "warn",
  Error: "error",
};

// The library reports every exit of the server as an error, a clean one (a restart, a
// shutdown) included.
const CLEAN_EXIT = /^Server process exited with code 0\.$/;

/** The level and text of one line the library wrote; other lines are info as they are. */
export function unwrapLibraryLine(line: string): { level: Level; text: string } {
  const match = LIBRARY_LINE.exec(line);
  if (match === null) {
    return { level: "info", text: line };
  }
  const text = match[2];
  return { level: CLEAN_EXIT.test(text) ? "info" : LEVELS[match[1]], text };
}

/** A LogOutputChannel whose append/appendLine go through `unwrapLibraryLine`. */
export class LevelledOutputChannel implements vscode.LogOutputChannel {
  constructor(private readonly channel: vscode.LogOutputChannel) {}

  get name(): string {
    return this.channel.name;
  }
  get logLevel(): vscode.LogLevel {
    return this.channel.logLevel;
  }
  get onDidChangeLogLevel(): vscode.Event<vscode.LogLevel> {
    return this.channel.onDidChangeLogLevel;
  }

  appendLine(value: string): void {
    const { level, text } = unwrapLibraryLine(value);
    this.channel[level](text);
  }
  append(value: string): void {
    this.appendLine(value.replace(/\r?\n$/, ""));
  }
  replace(value: string): void {
    this.channel.replace(value);
  }
  clear(): void {
    this.channel.clear();
  }
  show(columnOrPreserve?: vscode.ViewColumn | boolean, preserveFocus?: boolean): void {
    if (typeof columnOrPreserve === "boolean" || columnOrPreserve === undefined) {
      this.channel.show(columnOrPreserve);
    } else {
      this.channel.show(columnOrPreserve, preserveFocus);
    }
  }
  hide(): void {
    this.channel.hide();
  }
  dispose(): void {
    // The wrapped channel belongs to the extension, which disposes of it.
  }
  trace(message: string, ...args: unknown[]): void {
    this.channel.trace(message, ...args);
  }
  debug(message: string, ...args: unknown[]): void {
    this.channel.debug(message, ...args);
  }
  info(message: string, ...args: unknown[]): void {
    this.channel.info(message, ...args);
  }
  warn(message: string, ...args: unknown[]): void {
    this.channel.warn(message, ...args);
  }
  error(error: string | Error, ...args: unknown[]): void {
    this.channel.error(error, ...args);
  }
}
