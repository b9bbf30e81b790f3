import assert from "node:assert/strict";
import { test } from "node:test";
import { isVigilError } from "../core/index.js";
import { VERTICAL_IDS } from "../trust/index.js";
import { defaultPlaybooks, matches, parsePlaybooks } from "./playbook.js";

const good = `
playbooks:
  - id: pumps-scanning
    match: { categories: [scanning], minSeverity: medium, profiles: [infusion-pump] }
    actions:
      - { type: quarantine, expiresAfterMs: 600000 }
      - { type: notify, note: call the ward }
    approval: { require: safety-critical, timeoutMs: 60000, onTimeout: throttle }
  - id: notify-all
    actions: [{ type: notify }]
`;

test("a valid YAML file parses with defaults filled in", () => {
  const [a, b] = parsePlaybooks(good, "pb.yaml");
  assert.equal(a!.id, "pumps-scanning");
  assert.deepEqual(a!.actions[0], { type: "quarantine", expiresAfterMs: 600000 });
  assert.equal(b!.match.minSeverity, "low");
  assert.equal(b!.approval.onTimeout, "throttle");
});

test("JSON is accepted too (one playbook)", () => {
  const [p] = parsePlaybooks(JSON.stringify({ id: "x", actions: [{ type: "disconnect" }] }), "pb.json");
  assert.equal(p!.actions[0]!.type, "disconnect");
});

test("a bad playbook file is refused with one error listing every problem", () => {
  const bad = `
- id: Bad Id
  match: { minSeverity: extreme, verticals: [mars] }
  actions: [{ type: explode }, { type: quarantine, expiresAfterMs: 5 }]
- id: ok
  actions: []
  surprise: true
- id: ok
  actions: [{ type: notify }]
- id: ok
  actions: [{ type: notify }]
`;
  assert.throws(
    () => parsePlaybooks(bad, "pb.yaml"),
    (error: unknown) => {
      assert.ok(isVigilError(error, "PLAYBOOK_INVALID"));
      const m = error.message;
      for (const needle of [
        "pb.yaml:[0].id:",
        "pb.yaml:[0].match.minSeverity:",
        "pb.yaml:[0].match.verticals[0]:",
        "pb.yaml:[0].actions[0]",
        "pb.yaml:[0].actions[1].expiresAfterMs:",
        "pb.yaml:[1].actions:",
        "pb.yaml:[1](root): Unrecognized key",
        "playbook id ok is used twice",
      ]) {
        assert.ok(m.includes(needle.replace("[1](root)", "[1]")), `missing ${needle} in:\n${m}`);
      }
      return true;
    },
  );
});

test("not YAML at all is one clear error", () => {
  assert.throws(
    () => parsePlaybooks("a: [b", "x.yaml"),
    (e: unknown) => isVigilError(e, "PLAYBOOK_INVALID"),
  );
});

test("defaults: three playbooks per vertical, matched by vertical and severity", () => {
  const defaults = defaultPlaybooks();
  assert.equal(defaults.length, VERTICAL_IDS.length * 3);
  const input = {
    rule: "lateral_movement",
    category: "scanning",
    severity: "high",
    profile: "plc",
    vertical: "industrial",
  } as const;
  const chosen = defaults.find((p) => matches(p, input))!;
  assert.equal(chosen.id, "industrial-contain");
  assert.equal(chosen.actions[0]!.type, "throttle"); // industrial: never cut off without approval
  assert.equal(chosen.approval.require, "always");
  const low = defaults.find((p) => matches(p, { ...input, severity: "low", vertical: "healthcare" }))!;
  assert.equal(low.id, "healthcare-notify");
});
