// Shows generated markdown (docs, run details) as a rendered preview.

import * as vscode from "vscode";

/** Opens `content` in an untitled markdown document and shows its preview. */
export async function showMarkdownPreview(content: string): Promise<void> {
  const document = await vscode.workspace.openTextDocument({ language: "markdown", content });
  await vscode.window.showTextDocument(document, { preview: true });
  // With no argument the built-in command previews the active editor, which works
  // for untitled documents too.
  await vscode.commands.executeCommand("markdown.showPreview");
}
