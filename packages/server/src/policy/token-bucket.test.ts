import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../core/index.js";
import { TokenBucket } from "./token-bucket.js";

test("a full bucket gives its burst at once, then refills at the rate", () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket({ ratePerSecond: 2, burst: 5, clock });
  for (let i = 0; i < 5; i++) assert.equal(bucket.take(), true, `burst message ${i + 1}`);
  assert.equal(bucket.take(), false, "the sixth is refused");
  clock.advance(499);
  assert.equal(bucket.take(), false, "0.998 tokens are not one");
  clock.advance(1);
  assert.equal(bucket.take(), true, "one token per 500 ms at 2/s");
  assert.equal(bucket.take(), false);
  clock.advance(60_000);
  assert.equal(bucket.available(), 5, "refill stops at the burst");
});

test("refills sum exactly despite float steps (10 x 100 ms at 1/s is one token)", () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, clock });
  assert.equal(bucket.take(), true);
  for (let i = 0; i < 10; i++) {
    clock.advance(100);
    if (i < 9) assert.equal(bucket.take(), false, `after ${(i + 1) * 100} ms`);
  }
  assert.equal(bucket.take(), true);
});

test("fractional rates: a smart meter at 0.1/s gets one message per 10 s after its burst", () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket({ ratePerSecond: 0.1, burst: 2, clock });
  assert.ok(bucket.take() && bucket.take());
  clock.advance(9_999);
  assert.equal(bucket.take(), false);
  clock.advance(1);
  assert.equal(bucket.take(), true);
});

test("take(n): all or nothing; more than the burst never succeeds", () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket({ ratePerSecond: 10, burst: 4, clock });
  assert.equal(bucket.take(5), false);
  assert.equal(bucket.available(), 4, "a refused take takes nothing");
  assert.equal(bucket.take(3), true);
  assert.equal(bucket.take(2), false);
  assert.equal(bucket.take(1), true);
  assert.throws(() => bucket.take(0), RangeError);
  assert.throws(() => bucket.take(Number.NaN), RangeError);
});

test("a clock that goes backwards refills nothing", () => {
  const clock = new ManualClock(1_000_000);
  const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, clock });
  assert.equal(bucket.take(), true);
  clock.set(0);
  assert.equal(bucket.take(), false);
  clock.set(999);
  assert.equal(bucket.take(), false, "measured from where the clock went back to, not from before");
  clock.set(1000);
  assert.equal(bucket.take(), true);
});

test("reconfigure (a tier change) keeps earned tokens up to the new burst and applies the new rate", () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket({ ratePerSecond: 10, burst: 10, clock });
  bucket.reconfigure(5, 3);
  assert.equal(bucket.available(), 3);
  assert.ok(bucket.take(3));
  clock.advance(200);
  assert.equal(bucket.available(), 1, "5/s for 200 ms");
});

test("refuses a rate or burst that cannot work", () => {
  const clock = new ManualClock();
  assert.throws(() => new TokenBucket({ ratePerSecond: 0, burst: 1, clock }), RangeError);
  assert.throws(() => new TokenBucket({ ratePerSecond: Number.POSITIVE_INFINITY, burst: 1, clock }), RangeError);
  assert.throws(() => new TokenBucket({ ratePerSecond: 1, burst: 0.5, clock }), RangeError);
});
