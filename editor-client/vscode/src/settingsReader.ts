// Reads the flat `tether.*` settings that settingsMapping and interpreter expect.

import * as vscode from "vscode";
import { CLIENT_SETTING_KEYS, SERVER_SETTING_KEYS } from "./settingsMapping";

export const SETTINGS_SECTION = "tether";

export function readTetherSettings(scope: vscode.Uri | undefined): Record<string, unknown> {
  const configuration = vscode.workspace.getConfiguration(SETTINGS_SECTION, scope);
  const settings: Record<string, unknown> = {};
  for (const key of [...SERVER_SETTING_KEYS, ...CLIENT_SETTING_KEYS]) {
    settings[key] = configuration.get(key.slice(SETTINGS_SECTION.length + 1));
  }
  return settings;
}
