import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ArgumentError,
  docsArguments,
  paramsProblem,
  parseParams,
  resumeArguments,
  runIdArguments,
  runIdFromCommandArgument,
  startArguments,
} from "../src/commandArguments";

describe("parseParams", () => {
  it("reads KEY=VALUE pairs separated by any whitespace", () => {
    assert.deepEqual(parseParams("target=src  mode=fast\tlevel=2"), { target: "src", mode: "fast", level: "2" });
  });

  it("gives no params for empty or blank text", () => {
    assert.deepEqual(parseParams(""), {});
    assert.deepEqual(parseParams("   "), {});
  });

  it("keeps everything after the first = as the value, including more = and empty", () => {
    assert.deepEqual(parseParams("expr=a=b empty="), { expr: "a=b", empty: "" });
  });

  it("keeps whitespace inside quoted values", () => {
    assert.deepEqual(parseParams(`message="two words" other='single "quoted"' path=a" b"c`), {
      message: "two words",
      other: 'single "quoted"',
      path: "a bc",
    });
  });

  it("understands escaped quotes and backslashes inside double quotes", () => {
    assert.deepEqual(parseParams(String.raw`q="say \"hi\"" win="C:\\dir"`), { q: 'say "hi"', win: "C:\\dir" });
  });

  it("allows dotted, dashed and underscored keys", () => {
    assert.deepEqual(parseParams("_x=1 a.b=2 c-d=3"), { _x: "1", "a.b": "2", "c-d": "3" });
  });

  const malformed: [string, RegExp][] = [
    ["target", /^parameter 1 \("target"\): expected KEY=VALUE$/],
    ["a=1 oops b=2", /^parameter 2 \("oops"\): expected KEY=VALUE$/],
    ["=value", /^parameter 1 \("=value"\): the key before "=" is empty$/],
    ["1st=x", /^parameter 1 \("1st=x"\): key "1st" must start with a letter or "_"/],
    ["a=1 a=2", /^parameter 2 \("a=2"\): a is given twice$/],
    ['"a b"=c', /^parameter 1 \("\\"a b\\"=c"\): quote only the value, as KEY="a value"$/],
    ['msg="unterminated', /^unterminated " quote starting at column 5$/],
    ["x='open", /^unterminated ' quote starting at column 3$/],
  ];
  for (const [text, message] of malformed) {
    it(`rejects ${JSON.stringify(text)} with a clear message`, () => {
      assert.throws(() => parseParams(text), (error: unknown) => error instanceof ArgumentError && message.test(error.message));
      assert.match(paramsProblem(text) ?? "", message);
    });
  }

  it("has no problem to report for valid text", () => {
    assert.equal(paramsProblem("a=1 b='2 3'"), undefined);
  });
});

describe("command argument objects", () => {
  it("tether.start gets {workflow, params}", () => {
    assert.deepEqual(startArguments(" check ", "target=src"), { workflow: "check", params: { target: "src" } });
    assert.deepEqual(startArguments("check", ""), { workflow: "check", params: {} });
    assert.throws(() => startArguments("  ", ""), /workflow name is empty/);
  });

  it("run ids follow the journal's rule", () => {
    assert.deepEqual(runIdArguments("20261122-check.1_a"), { run_id: "20261122-check.1_a" });
    for (const bad of ["", "Upper", "../etc", "-lead", "a".repeat(129), "a b"]) {
      assert.throws(() => runIdArguments(bad), ArgumentError, bad);
    }
  });

  it("tether.resume gets {run_id}, {run_id, result} or {run_id, result_file}", () => {
    assert.deepEqual(resumeArguments("r1"), { run_id: "r1" });
    assert.deepEqual(resumeArguments("r1", { kind: "text", text: "looks good" }), { run_id: "r1", result: "looks good" });
    assert.deepEqual(resumeArguments("r1", { kind: "file", path: "/tmp/answer.md" }), { run_id: "r1", result_file: "/tmp/answer.md" });
    assert.throws(() => resumeArguments("r1", { kind: "file", path: " " }), /result file path is empty/);
    assert.throws(() => resumeArguments("R1"), /not a valid run id/);
  });

  it("tether.docs gets {library} or {library, query}", () => {
    assert.deepEqual(docsArguments(" httpx ", "  streaming "), { library: "httpx", query: "streaming" });
    assert.deepEqual(docsArguments("httpx", " "), { library: "httpx" });
    assert.throws(() => docsArguments("", "x"), /library name is empty/);
    assert.throws(() => docsArguments("two words", ""), /contains whitespace/);
  });

  it("reads the run id a command was invoked with", () => {
    assert.equal(runIdFromCommandArgument(undefined), undefined);
    assert.equal(runIdFromCommandArgument({ run_id: "r2" }), "r2");
    assert.throws(() => runIdFromCommandArgument({ id: "r2" }), /expected an argument \{"run_id": "\.\.\."\}/);
    assert.throws(() => runIdFromCommandArgument({ run_id: "../x" }), /not a valid run id/);
  });
});
