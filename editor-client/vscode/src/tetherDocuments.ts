// Read-only `tether:` documents for generated markdown (run details, docs): previews of
// them leave no untitled, dirty editor behind, and showing the same run again refreshes
// its page instead of adding another.

import * as vscode from "vscode";

export const TETHER_SCHEME = "tether";

// Pages are small, but a long session looks up many; the oldest are dropped past this.
const MAX_PAGES = 100;

export class TetherDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly pages = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    // A page dropped from memory (or a tab restored after a reload) says so instead of
    // showing nothing.
    return this.pages.get(uri.toString()) ?? `# Gone\n\nThis page is no longer kept; run the command again.\n`;
  }

  /** Stores `markdown` as `tether:/<kind>/<name>.md` and shows its rendered preview. */
  async preview(kind: "runs" | "docs", name: string, markdown: string): Promise<vscode.Uri> {
    const uri = vscode.Uri.from({ scheme: TETHER_SCHEME, path: `/${kind}/${safeName(name)}.md` });
    const key = uri.toString();
    this.pages.delete(key);
    this.pages.set(key, markdown);
    if (this.pages.size > MAX_PAGES) {
      this.pages.delete(this.pages.keys().next().value as string);
    }
    this.changed.fire(uri);
    // The built-in preview takes the document's URI: no text editor is opened for it.
    await vscode.commands.executeCommand("markdown.showPreview", uri);
    return uri;
  }

  dispose(): void {
    this.changed.dispose();
    this.pages.clear();
  }
}

export function registerTetherDocuments(): { documents: TetherDocuments; registration: vscode.Disposable } {
  const documents = new TetherDocuments();
  const registration = vscode.workspace.registerTextDocumentContentProvider(TETHER_SCHEME, documents);
  return { documents, registration };
}

/** A file-name-safe form of a run id or library name (`@scope/pkg` -> `@scope-pkg`). */
export function safeName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._@-]+/g, "-").replace(/^-+|-+$/g, "");
  return cleaned === "" ? "page" : cleaned.slice(0, 80);
}
