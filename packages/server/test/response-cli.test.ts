import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { cleanEnv, runCli, tempDir } from "./support.js";

const dir = tempDir("vigil-playbooks-");
after(() => dir.remove());

test("vigil playbooks validate: a good file is accepted, a bad one lists every problem and exits 1", async () => {
  const good = join(dir.path, "good.yaml");
  writeFileSync(
    good,
    "- id: cams\n  match: { profiles: [ip-camera] }\n  actions: [{ type: quarantine, expiresAfterMs: 600000 }, { type: notify }]\n",
  );
  const ok = await runCli(["playbooks", "validate", good], { env: cleanEnv() });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /1 valid playbook\(s\): cams/);

  const bad = join(dir.path, "bad.json");
  writeFileSync(bad, JSON.stringify([{ id: "Bad", actions: [{ type: "nuke" }], approval: { onTimeout: "panic" } }]));
  const refused = await runCli(["playbooks", "validate", bad], { env: cleanEnv() });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /PLAYBOOK_INVALID/);
  assert.match(refused.stderr, /bad\.json:\[0\]\.id:/);
  assert.match(refused.stderr, /bad\.json:\[0\]\.actions\[0\]/);
  assert.match(refused.stderr, /bad\.json:\[0\]\.approval\.onTimeout:/);
});
