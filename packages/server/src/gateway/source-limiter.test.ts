import assert from "node:assert/strict";
import { test } from "node:test";
import { SourceLimiter } from "./source-limiter.js";

test("per-source connection rate: burst, refill, per-source isolation, coalesced reports, pruning", () => {
  const limiter = new SourceLimiter(5);
  let now = 1_000_000;
  for (let i = 0; i < 5; i++) assert.equal(limiter.admit("10.0.0.1", now), true);
  assert.equal(limiter.admit("10.0.0.1", now), false);
  assert.equal(limiter.admit("10.0.0.1", now), false);
  assert.equal(limiter.admit("10.0.0.2", now), true, "another source is not affected");
  assert.equal(limiter.report("10.0.0.1", now, 1000), 2);
  assert.equal(limiter.report("10.0.0.1", now, 1000), 0, "at most one report per interval");
  now += 200; // 5/s: one token per 200 ms
  assert.equal(limiter.admit("10.0.0.1", now), true);
  assert.equal(limiter.admit("10.0.0.1", now), false);
  now += 10_000;
  assert.equal(limiter.report("10.0.0.1", now, 1000), 1);
  limiter.prune(now);
  assert.equal(limiter.size, 0, "full buckets with nothing to report are forgotten");
});
