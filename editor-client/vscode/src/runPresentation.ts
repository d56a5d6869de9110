// How runs look in quick picks and previews. Pure (no `vscode` import).

import type { RunSummary } from "./serverResults";

/** Statuses `tether.resume` accepts: the run stopped but its journal can go on. */
export const RESUMABLE_STATUSES: readonly string[] = ["paused", "waiting", "cancelled", "failed", "timed_out"];

export function isResumable(run: Pick<RunSummary, "status">): boolean {
  return RESUMABLE_STATUSES.includes(run.status);
}

export function isRunning(run: Pick<RunSummary, "status">): boolean {
  return run.status === "running";
}

const STATUS_ICONS: Readonly<Record<string, string>> = {
  running: "$(sync~spin)",
  succeeded: "$(check)",
  failed: "$(error)",
  timed_out: "$(watch)",
  cancelled: "$(circle-slash)",
  paused: "$(debug-pause)",
  waiting: "$(comment-discussion)",
};

/** A codicon for the status; unknown statuses (a newer server) get a neutral one. */
export function statusIcon(status: string): string {
  return STATUS_ICONS[status] ?? "$(circle-outline)";
}

export function formatAge(seconds: number | null): string {
  if (seconds === null) {
    return "";
  }
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s} s ago`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ago`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)} h ago`;
  }
  return `${Math.floor(s / 86400)} d ago`;
}

export function formatDuration(milliseconds: number | null): string {
  if (milliseconds === null) {
    return "";
  }
  const ms = Math.max(0, milliseconds);
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(1)} s`;
  }
  const totalSeconds = Math.round(ms / 1000);
  return `${Math.floor(totalSeconds / 60)} min ${totalSeconds % 60} s`;
}

export interface RunPickItem {
  label: string;
  description: string;
  detail: string;
  runId: string;
}

export function runPickItem(run: RunSummary): RunPickItem {
  const timing = [formatAge(run.age_seconds), formatDuration(run.duration_ms)].filter((part) => part !== "");
  return {
    label: `${statusIcon(run.status)} ${run.workflow}`,
    description: `${run.status.replace("_", " ")} · ${run.run_id}`,
    detail: timing.join(" · "),
    runId: run.run_id,
  };
}

/** Renders `tether.show`'s JSON (see the CLI's `--json` shape) as a markdown page. */
export function renderRunMarkdown(run: Record<string, unknown>): string {
  const text = (value: unknown): string => (typeof value === "string" ? value : value === undefined || value === null ? "" : JSON.stringify(value));
  const lines: string[] = [];
  const workflow = text(run.workflow) || "run";
  const status = text(run.status);
  lines.push(`# ${escapeInline(workflow)}${status ? ` — ${escapeInline(status.replace("_", " "))}` : ""}`, "");
  lines.push(`Run \`${text(run.run_id)}\``, "");
  const resume = text(run.resume_command);
  if (resume) {
    lines.push("Resume with:", "", fenced(resume, "sh"), "");
  }
  const steps = Array.isArray(run.steps) ? run.steps.filter(isObject) : [];
  if (steps.length > 0) {
    lines.push("| Step | Status | Attempts | Duration |", "| --- | --- | --- | --- |");
    for (const step of steps) {
      const duration = typeof step.duration_ms === "number" ? formatDuration(step.duration_ms) : "";
      lines.push(`| ${cell(text(step.id))} | ${cell(text(step.status))} | ${cell(text(step.attempts))} | ${cell(duration)} |`);
    }
    lines.push("");
    for (const step of steps) {
      const error = text(step.error);
      if (error) {
        lines.push(`## ${escapeInline(text(step.id))}: error`, "", fenced(error, ""), "");
      }
    }
  }
  lines.push("## Raw JSON", "", fenced(JSON.stringify(run, null, 2), "json"), "");
  return lines.join("\n");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function cell(value: string): string {
  return escapeInline(value).replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function escapeInline(value: string): string {
  return value.replace(/([\\`*_[\]<>#])/g, "\\$1");
}

/** A code fence longer than any backtick run inside the content, so it cannot be closed early. */
function fenced(content: string, language: string): string {
  const longest = Math.max(0, ...(content.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}${language}\n${content}\n${fence}`;
}
