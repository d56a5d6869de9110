import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chooseServerLaunch, describeLaunch, readInterpreterSetting, type LaunchInputs } from "../src/interpreter";

const base: LaunchInputs = {
  configured: [],
  activeEnvironmentExecutable: undefined,
  platform: "linux",
  workspaceFolder: "/work/project",
};

describe("chooseServerLaunch", () => {
  it("prefers tether.interpreter, keeping its arguments before -m tether serve", () => {
    const launch = chooseServerLaunch({ ...base, configured: ["uv", "run", "python"], activeEnvironmentExecutable: "/env/bin/python" });
    assert.deepEqual(launch, { command: "uv", args: ["run", "python", "-m", "tether", "serve"], origin: "setting" });
  });

  it("expands ${workspaceFolder} in tether.interpreter", () => {
    const launch = chooseServerLaunch({ ...base, configured: ["${workspaceFolder}/.venv/bin/python", "-X", "dev"] });
    assert.deepEqual(launch.command, "/work/project/.venv/bin/python");
    assert.deepEqual(launch.args, ["-X", "dev", "-m", "tether", "serve"]);
  });

  it("leaves ${workspaceFolder} alone without a workspace", () => {
    const launch = chooseServerLaunch({ ...base, workspaceFolder: undefined, configured: ["${workspaceFolder}/python"] });
    assert.equal(launch.command, "${workspaceFolder}/python");
  });

  it("uses the Python extension's active environment next", () => {
    const launch = chooseServerLaunch({ ...base, activeEnvironmentExecutable: "/env/bin/python" });
    assert.deepEqual(launch, { command: "/env/bin/python", args: ["-m", "tether", "serve"], origin: "python-extension" });
  });

  it("ignores a blank active environment path", () => {
    assert.equal(chooseServerLaunch({ ...base, activeEnvironmentExecutable: "  " }).origin, "default");
  });

  it("falls back to python3, or python on Windows", () => {
    assert.deepEqual(chooseServerLaunch(base), { command: "python3", args: ["-m", "tether", "serve"], origin: "default" });
    assert.deepEqual(chooseServerLaunch({ ...base, platform: "darwin" }).command, "python3");
    assert.deepEqual(chooseServerLaunch({ ...base, platform: "win32" }).command, "python");
  });

  it("does not share the argument list between launches", () => {
    const first = chooseServerLaunch(base);
    first.args.push("--oops");
    assert.deepEqual(chooseServerLaunch(base).args, ["-m", "tether", "serve"]);
  });
});

describe("readInterpreterSetting", () => {
  it("accepts a list of strings", () => {
    assert.deepEqual(readInterpreterSetting(["/usr/bin/python3.11"]), { command: ["/usr/bin/python3.11"], problem: undefined });
  });

  it("treats unset and empty as not configured", () => {
    for (const value of [undefined, null, [], ""]) {
      assert.deepEqual(readInterpreterSetting(value), { command: [], problem: undefined }, JSON.stringify(value));
    }
  });

  it("accepts a plain string as the executable", () => {
    assert.deepEqual(readInterpreterSetting("/opt/py/bin/python").command, ["/opt/py/bin/python"]);
  });

  it("ignores non-string entries with a message naming the setting", () => {
    const setting = readInterpreterSetting(["python", 3]);
    assert.deepEqual(setting.command, []);
    assert.equal(setting.problem, 'tether.interpreter: ["python",3] is not a list of strings; ignoring it');
    assert.match(readInterpreterSetting({ path: "python" }).problem ?? "", /tether\.interpreter: .* is not a list of strings/);
  });

  it("ignores an empty executable", () => {
    const setting = readInterpreterSetting(["", "-m"]);
    assert.deepEqual(setting.command, []);
    assert.match(setting.problem ?? "", /first entry \(the executable\) is empty/);
  });
});

describe("describeLaunch", () => {
  it("names the command and where it came from, quoting parts with spaces", () => {
    assert.equal(
      describeLaunch({ command: "/My Envs/python", args: ["-m", "tether", "serve"], origin: "python-extension" }),
      "\"/My Envs/python\" -m tether serve (the Python extension's active environment)",
    );
    assert.equal(describeLaunch(chooseServerLaunch(base)), "python3 -m tether serve (the default interpreter)");
  });
});
