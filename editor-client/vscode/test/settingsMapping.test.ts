import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  CLIENT_SETTING_KEYS,
  configurationSection,
  DOCS_PROVIDERS,
  LOG_LEVELS,
  MIN_PROGRESS_INTERVAL,
  SERVER_SETTING_KEYS,
  SETTING_DEFAULTS,
  toInitializationOptions,
} from "../src/settingsMapping";

interface MappingCase {
  name: string;
  settings: Record<string, unknown>;
  initializationOptions: unknown;
}

const fixturePath = join(__dirname, "..", "..", "shared", "settings-mapping.json");
const fixture = JSON.parse(readFileSync(fixturePath, "utf8")) as { cases: MappingCase[] };

interface ManifestProperty {
  default: unknown;
  minimum?: number;
  enum?: string[];
  items?: { enum?: string[] };
  pattern?: string;
}
const manifest = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as {
  contributes: { configuration: { properties: Record<string, ManifestProperty> } };
};
const properties = manifest.contributes.configuration.properties;

describe("shared settings fixture", () => {
  it("has the cases the contract asks for", () => {
    assert.ok(fixture.cases.length >= 5);
    const names = new Set(fixture.cases.map((c) => c.name));
    assert.equal(names.size, fixture.cases.length, "case names are unique");
  });

  for (const mappingCase of fixture.cases) {
    it(mappingCase.name, () => {
      const mapped = toInitializationOptions(mappingCase.settings);
      assert.deepEqual(mapped.options, mappingCase.initializationOptions);
      assert.deepEqual(mapped.problems, []);
    });
  }

  it("never sends tether.interpreter", () => {
    for (const mappingCase of fixture.cases) {
      assert.ok(!("interpreter" in (mappingCase.initializationOptions as object)));
      assert.ok(!JSON.stringify(toInitializationOptions(mappingCase.settings).options).includes("interpreter"));
    }
  });
});

describe("invalid settings fall back to defaults with a message", () => {
  const cases: [string, unknown, RegExp][] = [
    ["tether.progressInterval", 0.1, /tether\.progressInterval: 0\.1 is not a number of seconds >= 0\.5; using the default 5/],
    ["tether.progressInterval", "5", /tether\.progressInterval: "5"/],
    ["tether.prewarm.onStart", "yes", /tether\.prewarm\.onStart: "yes" is not true or false/],
    ["tether.docs.providers", ["local", "pypi"], /tether\.docs\.providers: \["local","pypi"\] is not a list of "local" or "context7"/],
    ["tether.docs.providers", "local", /tether\.docs\.providers/],
    ["tether.context7.url", "ftp://example.org", /tether\.context7\.url: "ftp:\/\/example\.org" is not an http\(s\) URL or empty; using the default null/],
    ["tether.context7.url", "not a url", /tether\.context7\.url/],
    ["tether.defaultBudget", "soon", /tether\.defaultBudget: "soon" is not a duration/],
    ["tether.defaultBudget", 50, /tether\.defaultBudget: 50 is not a duration/],
    ["tether.logLevel", "verbose", /tether\.logLevel: "verbose" is not one of error, warning, info, debug/],
  ];
  for (const [key, value, message] of cases) {
    it(`${key} = ${JSON.stringify(value)}`, () => {
      const mapped = toInitializationOptions({ [key]: value });
      assert.deepEqual(mapped.options, toInitializationOptions({}).options);
      assert.equal(mapped.problems.length, 1);
      assert.match(mapped.problems[0], message);
    });
  }

  it("keeps the valid settings next to an invalid one", () => {
    const mapped = toInitializationOptions({ "tether.logLevel": 3, "tether.docs.offline": true });
    assert.equal(mapped.options.logLevel, "info");
    assert.equal(mapped.options.docs.offline, true);
    assert.equal(mapped.problems.length, 1);
  });

  it("treats null like an unset setting", () => {
    const mapped = toInitializationOptions({ "tether.defaultBudget": null });
    assert.equal(mapped.options.defaultBudget, "50s");
    assert.deepEqual(mapped.problems, []);
  });

  it("drops repeated providers but keeps their order", () => {
    const mapped = toInitializationOptions({ "tether.docs.providers": ["context7", "local", "context7"] });
    assert.deepEqual(mapped.options.docs.providers, ["context7", "local"]);
  });

  it("trims a context7 url and a budget", () => {
    const mapped = toInitializationOptions({ "tether.context7.url": "  http://127.0.0.1:1/ ", "tether.defaultBudget": " 90s " });
    assert.equal(mapped.options.context7.url, "http://127.0.0.1:1/");
    assert.equal(mapped.options.defaultBudget, "90s");
  });
});

describe("package.json settings agree with the mapping", () => {
  it("declares exactly the mapped and client-only settings", () => {
    assert.deepEqual(Object.keys(properties).sort(), [...SERVER_SETTING_KEYS, ...CLIENT_SETTING_KEYS].sort());
  });

  it("declares the same defaults", () => {
    for (const key of SERVER_SETTING_KEYS) {
      assert.deepEqual(properties[key].default, SETTING_DEFAULTS[key], key);
    }
    assert.deepEqual(properties["tether.interpreter"].default, []);
  });

  it("declares the same limits and choices", () => {
    assert.equal(properties["tether.progressInterval"].minimum, MIN_PROGRESS_INTERVAL);
    assert.deepEqual(properties["tether.logLevel"].enum, [...LOG_LEVELS]);
    assert.deepEqual(properties["tether.docs.providers"].items?.enum, [...DOCS_PROVIDERS]);
  });

  it("validates budgets in the settings editor as the mapping does", () => {
    const pattern = new RegExp(properties["tether.defaultBudget"].pattern ?? "");
    for (const value of ["50s", "2m", "250ms", "1h", "30", "1.5s"]) {
      assert.ok(pattern.test(value), value);
      assert.equal(toInitializationOptions({ "tether.defaultBudget": value }).problems.length, 0, value);
    }
    for (const value of ["soon", "5 min", "-1s", ""]) {
      assert.ok(!pattern.test(value), value);
      assert.equal(toInitializationOptions({ "tether.defaultBudget": value }).problems.length, 1, value);
    }
  });
});

describe("workspace/configuration answers", () => {
  const options = toInitializationOptions({ "tether.docs.offline": true, "tether.interpreter": ["python3"] }).options;

  it("gives the whole initializationOptions for the tether section", () => {
    assert.deepEqual(configurationSection("tether", options), options);
  });

  it("gives the matching part for a nested section", () => {
    assert.deepEqual(configurationSection("tether.docs", options), { providers: ["local", "context7"], offline: true });
    assert.equal(configurationSection("tether.docs.offline", options), true);
    assert.equal(configurationSection("tether.context7.url", options), null);
  });

  it("gives null for client-only and unknown sections", () => {
    assert.equal(configurationSection("tether.interpreter", options), null);
    assert.equal(configurationSection("tether.docs.nothing", options), null);
    assert.equal(configurationSection("tether.logLevel.deeper", options), null);
  });
});
