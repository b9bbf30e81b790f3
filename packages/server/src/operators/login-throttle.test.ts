import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../core/index.js";
import { LoginThrottle } from "./login-throttle.js";

const settings = { threshold: 3, baseLockMs: 1000, maxLockMs: 8000, windowMs: 60_000, maxEntries: 50 };

test("locks after the threshold, doubles up to the cap, and forgets after the window", () => {
  const clock = new ManualClock(0);
  const throttle = new LoginThrottle(settings, clock);
  assert.equal(throttle.fail("ann", "a"), undefined);
  assert.equal(throttle.fail("ann", "a"), undefined);
  assert.deepEqual(throttle.fail("ANN", "b"), { kind: "account", until: 1000 }, "names are case-insensitive");
  assert.equal(throttle.check("ann", "c")?.kind, "account");
  const waits = [];
  for (let i = 0; i < 5; i++) {
    clock.advance(10_000);
    waits.push(throttle.fail("ann", "a")!.until - clock.now());
  }
  assert.deepEqual(waits, [2000, 4000, 8000, 8000, 8000]);
  clock.advance(120_000);
  assert.equal(throttle.check("ann", "a"), undefined);
});

test("a source address is locked across names at three times the threshold; state stays bounded", () => {
  const clock = new ManualClock(0);
  const throttle = new LoginThrottle(settings, clock);
  for (let i = 0; i < 8; i++) throttle.fail(`user-${i}`, "203.0.113.9");
  assert.equal(throttle.check("someone-else", "203.0.113.9"), undefined);
  throttle.fail("user-9", "203.0.113.9");
  assert.equal(throttle.check("someone-else", "203.0.113.9")?.kind, "source");
  for (let i = 0; i < 1000; i++) throttle.fail(`spray-${i}`, `10.0.${i >> 8}.${i & 255}`);
  assert.ok(throttle.tracked.accounts <= 50 && throttle.tracked.sources <= 50);
});
