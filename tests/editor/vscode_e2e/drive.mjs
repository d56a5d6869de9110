// Drives a running code-server with headless Chromium (playwright-core) through what a
// user does with the Tether extension, and writes what it saw as JSON. The pytest side
// (tests/editor/test_vscode_e2e.py) starts code-server and asserts on that JSON; the
// benchmark (tests/benchmarks/vscode_progress.py) uses the `bench` scenario.
//
//   node drive.mjs <config.json>
//
// config: {url, workspace, logs (the user-data-dir's logs folder), artifacts, output,
//          profile (a fresh browser profile folder), chromium, scenario: "e2e" | "bench",
//          repeats (bench), badInterpreter and tether (the CLI) for e2e}
//
// Timings are taken inside the page (performance.now()) by observers installed before
// each action, so polling from this process adds nothing to them.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const STEP_TIMEOUT = 60_000;
const result = { checks: {}, timings: [], errors: [] };
mkdirSync(config.artifacts, { recursive: true });

const STATUS_ITEM = '[id="tether.tether.tether.activeRun"]';
const TOAST = ".notifications-toasts .notification-toast";

function save() {
  writeFileSync(config.output, JSON.stringify(result, null, 2));
}

async function screenshot(page, name) {
  const path = join(config.artifacts, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Runs a palette command by its title, as a user does with F1. */
async function palette(page, title) {
  await page.keyboard.press("Escape");
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: STEP_TIMEOUT });
  await input.fill(`>${title}`);
  await page
    .locator(".quick-input-list .monaco-list-row", { hasText: title })
    .first()
    .waitFor({ state: "visible", timeout: STEP_TIMEOUT });
  await page.keyboard.press("Enter");
}

/** Picks the quick-pick row whose text contains `text`. */
async function pick(page, text) {
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: text }).first();
  await row.waitFor({ state: "visible", timeout: STEP_TIMEOUT });
  await row.click();
}

/** Waits for the input box titled `title`, types `value` and presses Enter. */
async function answer(page, title, value) {
  await page.locator(".quick-input-widget .quick-input-title", { hasText: title }).waitFor({ state: "visible", timeout: STEP_TIMEOUT });
  const input = page.locator(".quick-input-widget input");
  await input.fill(value);
  await page.keyboard.press("Enter");
}

/**
 * Installs observers in the page: every text of the status item and of tether's
 * notification toasts, with performance.now() times, and the time of each Enter/click.
 */
async function observe(page) {
  await page.evaluate(
    ({ statusSelector, toastSelector }) => {
      const log = { status: [], toasts: [], keys: [] };
      window.__tether = log;
      const lastToast = new Map();
      const sample = () => {
        const now = performance.now();
        const item = document.querySelector(statusSelector);
        const text = item ? item.textContent.trim() : "";
        if (log.status.length === 0 || log.status[log.status.length - 1].text !== text) {
          log.status.push({ t: now, text });
        }
        for (const [index, toast] of [...document.querySelectorAll(toastSelector)].entries()) {
          const toastText = toast.innerText.replace(/\s+/g, " ").trim();
          if (lastToast.get(index) !== toastText) {
            lastToast.set(index, toastText);
            log.toasts.push({ t: now, text: toastText });
          }
        }
      };
      new MutationObserver(sample).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
      window.addEventListener("keydown", (event) => log.keys.push({ t: performance.now(), key: event.key }), true);
      window.addEventListener("mousedown", (event) => log.keys.push({ t: performance.now(), key: "click", text: event.target.textContent ?? "" }), true);
      sample();
    },
    { statusSelector: STATUS_ITEM, toastSelector: TOAST },
  );
}

const observed = (page) => page.evaluate(() => window.__tether);

async function statusText(page) {
  const item = page.locator(STATUS_ITEM);
  return (await item.count()) > 0 ? (await item.innerText()).trim() : "";
}

async function waitForStatus(page, pattern, timeout = STEP_TIMEOUT) {
  await page.waitForFunction(
    ({ selector, source }) => {
      const item = document.querySelector(selector);
      return item !== null && new RegExp(source).test(item.textContent);
    },
    { selector: STATUS_ITEM, source: pattern.source },
    { timeout, polling: 20 },
  );
}

function toastFor(page, workflow) {
  return page.locator(TOAST, { hasText: `Tether: ${workflow}` }).first();
}

/** Starts `workflow` from the palette; returns the in-page time of the Enter that started it. */
async function startFromPalette(page, workflow) {
  await palette(page, "Tether: Run Workflow");
  await pick(page, workflow);
  await answer(page, `Tether: Run ${workflow}`, "");
  const log = await observed(page);
  return log.keys.filter((key) => key.key === "Enter").at(-1).t;
}

/** Tab labels and whether any editor is dirty or untitled. */
async function editorTabs(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll(".tabs-container .tab")].map((tab) => ({
      label: tab.getAttribute("aria-label") ?? tab.textContent.trim(),
      dirty: tab.classList.contains("dirty"),
    })),
  );
}

async function hoverText(page, selector) {
  await page.locator(selector).hover();
  const hover = page.locator(".workbench-hover, .monaco-hover").filter({ hasText: "tether run" }).first();
  await hover.waitFor({ state: "visible", timeout: 10_000 });
  const text = (await hover.innerText()).trim();
  await page.mouse.move(700, 300);
  return text;
}

async function check(name, page, body) {
  const started = Date.now();
  try {
    result.checks[name] = { ok: true, ...(await body()) };
  } catch (error) {
    result.checks[name] = { ok: false, error: String(error?.stack ?? error) };
    try {
      result.checks[name].screenshot = await screenshot(page, `failed-${name}`);
    } catch {
      // the page is gone; the error says why
    }
  }
  result.checks[name].seconds = (Date.now() - started) / 1000;
  save();
}

async function e2e(page) {
  await check("activation", page, async () => {
    await page.locator(".statusbar").waitFor({ state: "visible", timeout: STEP_TIMEOUT });
    return { screenshot: await screenshot(page, "01-activated") };
  });

  await check("run_notification", page, async () => {
    await observe(page);
    const enter = await startFromPalette(page, "demo");
    const toast = toastFor(page, "demo");
    await toast.waitFor({ state: "visible", timeout: STEP_TIMEOUT });
    await toast.filter({ hasText: "first" }).waitFor({ state: "visible", timeout: STEP_TIMEOUT });
    const shot = await screenshot(page, "02-run-notification");
    await waitForStatus(page, /succeeded/);
    const log = await observed(page);
    const toasts = log.toasts.filter((entry) => entry.text.includes("Tether: demo"));
    return {
      screenshot: shot,
      final_screenshot: await screenshot(page, "03-run-succeeded"),
      toast_texts: [...new Set(toasts.map((entry) => entry.text))],
      notification_ms: toasts.length > 0 ? toasts[0].t - enter : null,
      status_texts: log.status.map((entry) => entry.text),
      status: await statusText(page),
      clicks_after_start: log.keys.filter((key) => key.key === "click" && key.t > enter).length,
    };
  });

  await check("cancel_from_notification", page, async () => {
    await observe(page);
    await startFromPalette(page, "slow");
    const toast = toastFor(page, "slow");
    await toast.filter({ hasText: "nap" }).waitFor({ state: "visible", timeout: STEP_TIMEOUT });
    await waitForStatus(page, /slow: nap/);
    const shot = await screenshot(page, "04-cancel-notification");
    await toast.hover();
    await toast.getByRole("button", { name: "Cancel" }).click();
    await waitForStatus(page, /cancelled/);
    const tooltip = await hoverText(page, STATUS_ITEM);
    return {
      screenshot: shot,
      cancelled_screenshot: await screenshot(page, "05-cancelled"),
      status: await statusText(page),
      tooltip,
      toast_visible_after: await toast.isVisible(),
    };
  });

  await check("cli_run_is_quiet", page, async () => {
    // A run started elsewhere (the CLI in the workspace): the server follows it, the
    // status item shows it, and by default no notification pops up.
    await observe(page);
    const child = spawn(config.tether, ["run", "demo"], { cwd: config.workspace, stdio: "ignore" });
    const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    await waitForStatus(page, /demo: (first|second)/);
    const spinner = page.locator(".statusbar-item", { hasText: "Tether: demo" }).first();
    const spinnerSeen = await spinner
      .waitFor({ state: "visible", timeout: 10_000 })
      .then(() => true)
      .catch(() => false);
    const shot = await screenshot(page, "06-cli-run");
    await waitForStatus(page, /demo: succeeded/);
    const log = await observed(page);
    return {
      screenshot: shot,
      exit_code: await exited,
      spinner_seen: spinnerSeen,
      toasts: log.toasts.filter((entry) => entry.text.includes("Tether: demo")).map((entry) => entry.text),
      status: await statusText(page),
    };
  });

  await check("previews", page, async () => {
    await palette(page, "Tether: Show Runs");
    await pick(page, "slow");
    await page.locator(".tabs-container .tab", { hasText: "Preview" }).first().waitFor({ state: "visible", timeout: STEP_TIMEOUT });
    const runsShot = await screenshot(page, "07-show-runs");
    const afterRuns = await editorTabs(page);
    await palette(page, "Tether: Look Up Docs");
    await answer(page, "Tether: Look Up Docs (1/2)", "click");
    await answer(page, "Tether: Look Up Docs for click (2/2)", "");
    await page.locator(".tabs-container .tab", { hasText: "click" }).first().waitFor({ state: "visible", timeout: STEP_TIMEOUT });
    // The preview renders inside a webview; give it its content before the picture.
    await page.locator(".tabs-container .tab.active", { hasText: "click" }).waitFor({ state: "visible", timeout: STEP_TIMEOUT });
    return {
      screenshot: runsShot,
      docs_screenshot: await screenshot(page, "08-look-up-docs"),
      tabs_after_show_runs: afterRuns,
      tabs: await editorTabs(page),
    };
  });

  result.logs_checked_at = new Date().toISOString();
  save();

  await check("bad_interpreter", page, async () => {
    // Written as a user would edit .vscode/settings.json; the extension restarts the server.
    const settingsPath = join(config.workspace, ".vscode", "settings.json");
    const settings = JSON.parse(readFileSync(settingsPath, "utf8"));
    settings["tether.interpreter"] = [config.badInterpreter];
    writeFileSync(settingsPath, JSON.stringify(settings, null, 2));
    const toast = page.locator(TOAST, { hasText: "did not start" }).first();
    await toast.waitFor({ state: "visible", timeout: STEP_TIMEOUT });
    return { screenshot: await screenshot(page, "09-bad-interpreter"), message: (await toast.innerText()).replace(/\s+/g, " ").trim() };
  });
}

async function bench(page) {
  for (let round = 1; round <= config.repeats; round += 1) {
    await observe(page);
    const enter = await startFromPalette(page, "slow");
    const toast = toastFor(page, "slow");
    await toast.waitFor({ state: "visible", timeout: STEP_TIMEOUT });
    await waitForStatus(page, /slow: nap/);
    await toast.hover();
    await toast.getByRole("button", { name: "Cancel" }).click();
    await waitForStatus(page, /cancelled/);
    const log = await observed(page);
    const firstToast = log.toasts.find((entry) => entry.text.includes("Tether: slow"));
    const click = log.keys.filter((key) => key.key === "click").at(-1);
    const cancelled = log.status.find((entry) => entry.t > click.t && entry.text.includes("cancelled"));
    result.timings.push({ round, notification_ms: firstToast.t - enter, cancel_ms: cancelled.t - click.t });
    save();
    await page.keyboard.press("Escape");
  }
}

const context = await chromium.launchPersistentContext(config.profile, {
  executablePath: config.chromium,
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (error) => result.errors.push(`page error: ${error.message}`));
  await page.goto(`${config.url}/?folder=${encodeURIComponent(config.workspace)}`);
  await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: STEP_TIMEOUT });
  result.server_running_log = await waitForLog(/Tether\.log$/, "The language server is running");
  await (config.scenario === "bench" ? bench(page) : e2e(page));
} catch (error) {
  result.errors.push(String(error?.stack ?? error));
} finally {
  save();
  await context.close();
}

/** Polls the user-data-dir's logs for a file named like `name` containing `text`. */
async function waitForLog(name, text) {
  const deadline = Date.now() + STEP_TIMEOUT;
  while (Date.now() < deadline) {
    for (const file of listFiles(config.logs)) {
      if (name.test(file) && readFileSync(file, "utf8").includes(text)) {
        return file;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no log ${name} under ${config.logs} said "${text}" within ${STEP_TIMEOUT / 1000} s`);
}

function listFiles(directory) {
  let entries;
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(directory, entry.name);
    return entry.isDirectory() ? listFiles(path) : [path];
  });
}
