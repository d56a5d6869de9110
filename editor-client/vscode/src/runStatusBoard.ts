// Decides what the status bar shows from `tether/runStatus` notifications. Pure (no
// `vscode` import): the status bar item only renders `view()`.

import { statusIcon } from "./runPresentation";
import type { RunStatusUpdate } from "./serverResults";

export interface StatusBarView {
  text: string;
  tooltip: string;
  /** The run that clicking the item shows. */
  runId: string;
}

interface TrackedRun {
  update: RunStatusUpdate;
  /** Order of the last update, to find the most recent run. */
  sequence: number;
}

// A long editor session sees many runs; only the newest few matter for display.
const MAX_TRACKED_RUNS = 50;

export class RunStatusBoard {
  private readonly runs = new Map<string, TrackedRun>();
  private sequence = 0;

  apply(update: RunStatusUpdate): void {
    this.sequence += 1;
    const previous = this.runs.get(update.run_id)?.update;
    // Heartbeats carry no step: a running run keeps the step it was last seen at.
    const step =
      update.step ?? (update.status === "running" && previous?.status === "running" ? previous.step : undefined);
    this.runs.set(update.run_id, { update: { ...update, step }, sequence: this.sequence });
    if (this.runs.size > MAX_TRACKED_RUNS) {
      const oldest = [...this.runs.values()].sort((a, b) => a.sequence - b.sequence)[0];
      this.runs.delete(oldest.update.run_id);
    }
  }

  /** Forget everything (the server restarted: its runs will report again). */
  clear(): void {
    this.runs.clear();
  }

  /**
   * The most recently updated running run; when nothing runs, the most recently
   * updated run of any status (so its outcome stays visible and clickable).
   */
  view(): StatusBarView | undefined {
    const byRecency = [...this.runs.values()].sort((a, b) => b.sequence - a.sequence);
    if (byRecency.length === 0) {
      return undefined;
    }
    const running = byRecency.filter((run) => run.update.status === "running");
    const shown = (running[0] ?? byRecency[0]).update;
    const others = running.length > 1 ? ` (+${running.length - 1})` : "";
    const activity = shown.status === "running" ? (shown.step ?? "") : shown.status.replace("_", " ");
    const text = `${statusIcon(shown.status)} ${shown.workflow}${activity ? `: ${activity}` : ""}${others}`;
    const tooltipLines = [
      `tether run ${shown.run_id}`,
      `workflow ${shown.workflow}, ${shown.status.replace("_", " ")}${shown.step ? ` at step ${shown.step}` : ""}`,
    ];
    // A finished run's message often is just its status ("succeeded"), already said above.
    if (shown.message && shown.message !== shown.status.replace("_", " ")) {
      tooltipLines.push(shown.message);
    }
    if (running.length > 1) {
      tooltipLines.push(`${running.length} runs active`);
    }
    tooltipLines.push("Click to show the run");
    return { text, tooltip: tooltipLines.join("\n"), runId: shown.run_id };
  }
}
