// How runs show their progress. The server creates one work-done progress per run (token
// `tether/<run id>/<n>`); vscode-languageclient would show every such progress in the
// status bar with a silent notification, so this extension presents tether's tokens itself:
// - a run the user started or resumed from the palette gets a progress notification at
//   once (before the server has answered), with each step and a Cancel button;
// - runs started elsewhere (the CLI, a chat agent, the docs pre-warm) follow the
//   `tether.progress.otherRuns` setting: the status bar (default), a notification, or off.
// Tokens that are not tether's keep the library's own presentation.

import * as vscode from "vscode";
import {
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  type BaseLanguageClient,
  type ClientCapabilities,
  type FeatureState,
  type ProgressToken,
  type StaticFeature,
  type WorkDoneProgressBegin,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
} from "vscode-languageclient/node";
import { ProgressPart } from "vscode-languageclient/lib/common/progressPart";

export const OTHER_RUNS_SETTING = "progress.otherRuns";
export const OTHER_RUNS_CHOICES = ["statusBar", "notification", "off"] as const;
export type OtherRunsPresentation = (typeof OTHER_RUNS_CHOICES)[number];

/** The run id inside a token the server created for a run, else undefined. */
export function runIdOfToken(token: ProgressToken): string | undefined {
  const match = typeof token === "string" ? /^tether\/([^/]+)\/\d+$/.exec(token) : null;
  return match?.[1];
}

/** `tether.progress.otherRuns` as read from settings.json, which may hold anything. */
export function readOtherRunsSetting(value: unknown): OtherRunsPresentation {
  return (OTHER_RUNS_CHOICES as readonly unknown[]).includes(value) ? (value as OtherRunsPresentation) : "statusBar";
}

/**
 * One `window.withProgress` shown until `end()`. Percentages become the increments
 * VS Code wants; a message that arrives before VS Code hands over the reporter is kept.
 */
export class ProgressView {
  private progress: vscode.Progress<{ message?: string; increment?: number }> | undefined;
  private reported = 0;
  private pending: { message?: string; increment?: number } | undefined;
  private finish: () => void = () => undefined;
  private readonly finished: Promise<void>;
  private ended = false;

  constructor(location: vscode.ProgressLocation, title: string, onCancel: () => void) {
    this.finished = new Promise((resolve) => {
      this.finish = resolve;
    });
    void vscode.window.withProgress({ location, title, cancellable: true }, (progress, cancellation) => {
      this.progress = progress;
      if (this.pending !== undefined) {
        progress.report(this.pending);
        this.pending = undefined;
      }
      const listener = cancellation.onCancellationRequested(() => {
        listener.dispose();
        if (!this.ended) {
          onCancel();
        }
      });
      return this.finished;
    });
  }

  report(message: string | undefined, percentage?: number): void {
    if (this.ended) {
      return;
    }
    const value: { message?: string; increment?: number } = {};
    if (message !== undefined) {
      value.message = message;
    }
    if (percentage !== undefined) {
      const increment = Math.max(0, Math.min(100, percentage) - this.reported);
      this.reported += increment;
      if (increment > 0) {
        value.increment = increment;
      }
    }
    if (this.progress === undefined) {
      this.pending = { ...this.pending, ...value };
    } else {
      this.progress.report(value);
    }
  }

  get isEnded(): boolean {
    return this.ended;
  }

  end(): void {
    this.ended = true;
    this.finish();
  }
}

/**
 * Runs started or resumed from the palette, each with its notification. A progress
 * token whose begin arrives while a start is still waiting for its run id waits for
 * that answer, so a fast run is never shown twice.
 */
export class PaletteRuns {
  private readonly views = new Map<string, ProgressView>();
  private readonly starting = new Set<Promise<unknown>>();

  constructor(private readonly cancelRun: (runId: string) => Promise<void>) {}

  /**
   * Shows the notification at once and ties it to the run `start` resolves to. A Cancel
   * pressed before the run id is known cancels the run as soon as it is.
   */
  async start(workflow: string, start: Promise<string>): Promise<string> {
    let runId: string | undefined;
    let cancelWanted = false;
    const view = new ProgressView(vscode.ProgressLocation.Notification, `Tether: ${workflow}`, () => {
      if (runId === undefined) {
        cancelWanted = true;
      } else {
        this.cancel(runId, view);
      }
    });
    view.report("starting…");
    this.starting.add(start);
    try {
      runId = await start;
    } catch (error) {
      view.end();
      throw error;
    } finally {
      this.starting.delete(start);
    }
    this.views.set(runId, view);
    if (cancelWanted) {
      this.cancel(runId, view);
    }
    return runId;
  }

  /** The same notification for a run resumed from the palette (its id is known). */
  async resume<T>(workflow: string, runId: string, resume: Promise<T>): Promise<T> {
    const view = new ProgressView(vscode.ProgressLocation.Notification, `Tether: ${workflow}`, () =>
      this.cancel(runId, view),
    );
    view.report("resuming…");
    this.views.set(runId, view);
    try {
      return await resume;
    } finally {
      // The server answers when the run ends or pauses: its progress has ended by then.
      this.finished(runId);
    }
  }

  /** The notification of `runId` if the palette started it, once pending starts answered. */
  async claim(runId: string): Promise<ProgressView | undefined> {
    if (this.starting.size > 0) {
      await Promise.allSettled([...this.starting]);
    }
    return this.views.get(runId);
  }

  /** The run ended or paused (from its progress, or its status when progress is missing). */
  finished(runId: string): void {
    this.views.get(runId)?.end();
    this.views.delete(runId);
  }

  /** The server stopped: no progress will end these. */
  clear(): void {
    for (const view of this.views.values()) {
      view.end();
    }
    this.views.clear();
  }

  private cancel(runId: string, view: ProgressView): void {
    view.report("cancelling…");
    this.cancelRun(runId).catch(() => {
      // The palette's own error reporting is not reachable from a button; the run's
      // status item still tells what happened.
    });
  }
}

type ProgressValue = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

/**
 * Replaces vscode-languageclient's progress feature: answers `window/workDoneProgress/create`
 * and presents tether's tokens as described at the top of this file.
 */
export class TetherProgressFeature implements StaticFeature {
  private readonly parts = new Set<ProgressPart>();
  private readonly views = new Set<ProgressView>();

  constructor(
    private readonly client: BaseLanguageClient,
    private readonly palette: PaletteRuns,
    private readonly otherRuns: () => OtherRunsPresentation,
  ) {}

  getState(): FeatureState {
    return { kind: "static" };
  }

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.window = { ...capabilities.window, workDoneProgress: true };
  }

  initialize(): void {
    this.client.onRequest(WorkDoneProgressCreateRequest.type, (params) => this.created(params.token));
  }

  clear(): void {
    for (const part of this.parts) {
      part.done();
    }
    this.parts.clear();
    for (const view of this.views) {
      view.end();
    }
    this.views.clear();
  }

  private created(token: ProgressToken): void {
    const runId = runIdOfToken(token);
    if (runId === undefined) {
      this.parts.add(new ProgressPart(this.client, token, (part) => this.parts.delete(part)));
      return;
    }
    // Values are handled in order; deciding where a run shows may wait for a start.
    let queue = Promise.resolve();
    let view: ProgressView | undefined;
    let palette = false;
    const subscription = this.client.onProgress(WorkDoneProgress.type, token, (value: ProgressValue) => {
      queue = queue.then(async () => {
        if (value.kind === "begin") {
          const claimed = await this.palette.claim(runId);
          palette = claimed !== undefined;
          view = claimed ?? this.otherRunView(token, value.title);
          view?.report(value.message, value.percentage);
        } else if (value.kind === "report") {
          view?.report(value.message, value.percentage);
        } else {
          subscription.dispose();
          if (palette) {
            this.palette.finished(runId);
          } else if (view !== undefined) {
            view.end();
            this.views.delete(view);
          }
        }
      });
    });
  }

  private otherRunView(token: ProgressToken, title: string): ProgressView | undefined {
    const presentation = this.otherRuns();
    if (presentation === "off") {
      return undefined;
    }
    const location =
      presentation === "notification" ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window;
    const view = new ProgressView(location, `Tether: ${title}`, () => {
      void this.client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
    });
    this.views.add(view);
    return view;
  }
}
