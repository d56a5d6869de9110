// The status bar item showing the active run; clicking it shows that run.

import * as vscode from "vscode";
import { PALETTE_COMMANDS } from "./commandIds";
import type { RunStatusBoard } from "./runStatusBoard";
import type { RunStatusUpdate } from "./serverResults";

export class RunStatusItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor(private readonly board: RunStatusBoard) {
    this.item = vscode.window.createStatusBarItem("tether.activeRun", vscode.StatusBarAlignment.Left, 50);
    this.item.name = "Tether Run";
  }

  update(update: RunStatusUpdate): void {
    this.board.apply(update);
    this.render();
  }

  clear(): void {
    this.board.clear();
    this.render();
  }

  dispose(): void {
    this.item.dispose();
  }

  private render(): void {
    const view = this.board.view();
    if (view === undefined) {
      this.item.hide();
      return;
    }
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = { command: PALETTE_COMMANDS.showRuns, title: "Show Run", arguments: [{ run_id: view.runId }] };
    this.item.show();
  }
}
