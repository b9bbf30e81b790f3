import { test } from "node:test";
import assert from "node:assert/strict";
import { VERTICALS as PROFILE_VERTICALS } from "../policy/index.js";
import { CIA_OUTCOMES, VERTICAL_IDS, VERTICALS, pillarWeights, verticalOfProfile } from "./index.js";

test("every vertical's CIA weights are in [0,1] and sum to 1", () => {
  for (const id of VERTICAL_IDS) {
    const v = VERTICALS[id];
    assert.equal(v.id, id);
    let sum = 0;
    for (const outcome of CIA_OUTCOMES) {
      const w = v.cia[outcome];
      assert.ok(w >= 0 && w <= 1, `${id}.${outcome}`);
      sum += w;
    }
    assert.ok(Math.abs(sum - 1) < 1e-9, `${id} sums to ${sum}`);
    const p = pillarWeights(v.cia);
    assert.ok(Math.abs(p.confidentiality + p.integrity + p.availability - 1) < 1e-9);
  }
});

test("every device-profile vertical maps to a trust vertical", () => {
  for (const pv of PROFILE_VERTICALS) assert.ok(VERTICAL_IDS.includes(verticalOfProfile(pv).id));
  assert.equal(verticalOfProfile("energy").id, "industrial");
  assert.equal(verticalOfProfile("generic").id, "default");
});

test("enforcement: healthcare quarantines on exfiltration, automotive throttles and asks", () => {
  assert.equal(VERTICALS.healthcare.enforcement.onExfiltration, "quarantine");
  assert.equal(VERTICALS.automotive.enforcement.onExfiltration, "throttle");
  assert.equal(VERTICALS.automotive.enforcement.disruptiveActionsNeedApproval, true);
  assert.ok(Object.isFrozen(VERTICALS.healthcare.cia));
});
