// Decides whether the language client restarts a server whose connection closed.

import {
  CloseAction,
  ErrorAction,
  type CloseHandlerResult,
  type ErrorHandler,
  type ErrorHandlerResult,
  type Message,
} from "vscode-languageclient/node";

/**
 * A server that dies before it ever ran is not restarted (the start failure is
 * explained once); one that crashes later restarts up to 4 times in 3 minutes.
 */
export class CrashLimiter implements ErrorHandler {
  private static readonly MAX_RESTARTS = 4;
  private static readonly WINDOW_MS = 3 * 60 * 1000;
  private readonly restarts: number[] = [];
  private hasRun = false;

  markRunning(): void {
    this.hasRun = true;
  }

  error(_error: Error, _message: Message | undefined, count: number | undefined): ErrorHandlerResult {
    // Same as the library's default: tolerate a few malformed messages, then shut down.
    return { action: count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown };
  }

  closed(): CloseHandlerResult {
    if (!this.hasRun) {
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const now = Date.now();
    while (this.restarts.length > 0 && now - this.restarts[0] > CrashLimiter.WINDOW_MS) {
      this.restarts.shift();
    }
    if (this.restarts.length >= CrashLimiter.MAX_RESTARTS) {
      return {
        action: CloseAction.DoNotRestart,
        message: `The tether language server crashed ${CrashLimiter.MAX_RESTARTS + 1} times in 3 minutes and was not restarted; see the "Tether" output, then run "Tether: Restart Server".`,
      };
    }
    this.restarts.push(now);
    return { action: CloseAction.Restart };
  }
}
