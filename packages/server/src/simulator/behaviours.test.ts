import assert from "node:assert/strict";
import { test } from "node:test";
import { loadDefaultProfiles } from "../policy/index.js";
import { behaviours } from "./behaviours.js";
import { allocate, mixes, type MixName } from "./mixes.js";
import { createRandom } from "./random.js";
import { defaultTimeline } from "./timeline.js";

test("every shipped profile has a behaviour that stays within its limits even in the restricted tier", async () => {
  const profiles = await loadDefaultProfiles();
  assert.deepEqual([...behaviours.keys()].sort(), [...profiles.keys()].sort());
  for (const [id, behaviour] of behaviours) {
    const profile = profiles.get(id)!;
    const random = createRandom(7);
    const ticks = 20_000;
    let messages = 0;
    let largestTick = 0;
    let largestPayload = 0;
    for (let seq = 0; seq < ticks; seq++) {
      const out = behaviour.tick({ deviceId: `sim-${id}-1`, random, dayPhase: (seq % 500) / 500, seq, now: 0, drift: 0 });
      messages += out.length;
      largestTick = Math.max(largestTick, out.length);
      for (const m of out) {
        largestPayload = Math.max(largestPayload, Buffer.byteLength(JSON.stringify(m.payload)));
        assert.ok(m.qos <= profile.maxQos, `${id}: QoS ${m.qos} over the profile's ${profile.maxQos}`);
        const topic = `devices/{device}/${m.subtopic}`;
        assert.ok(profile.publish.includes(topic), `${id}: ${topic} is not in the profile`);
      }
    }
    const rate = messages / ((ticks * behaviour.periodMs) / 1000);
    // Restricted halves rate, burst and size; the behaviour keeps under 35 % / 50 % / 40 % of the profile.
    assert.ok(rate <= profile.maxMessagesPerSecond * 0.35, `${id}: ${rate.toFixed(3)}/s`);
    assert.ok(largestTick <= Math.max(1, Math.floor(profile.burst / 2)), `${id}: tick of ${largestTick}`);
    assert.ok(largestPayload <= profile.maxPayloadBytes * 0.4, `${id}: ${largestPayload} bytes`);
  }
});

test("drift moves readings away from their normal mean", () => {
  const plc = behaviours.get("plc")!;
  const mean = (drift: number) => {
    const random = createRandom(3);
    let sum = 0;
    for (let seq = 0; seq < 200; seq++) {
      const [m] = plc.tick({ deviceId: "p", random, dayPhase: 0.5, seq, now: 0, drift });
      sum += (m!.payload.tags as Record<string, number>).tag0!;
    }
    return sum / 200;
  };
  assert.ok(mean(1) - mean(0) > 1.5);
});

test("mixes allocate exactly n devices", () => {
  for (const mix of Object.keys(mixes) as MixName[]) {
    for (const n of [1, 5, 7, 50, 1001]) {
      const counts = allocate(n, mix);
      assert.equal(
        counts.reduce((s, [, c]) => s + c, 0),
        n,
        `${mix} ${n}`,
      );
    }
  }
  assert.equal(allocate(7, "mixed").length, 7);
});

test("the seeded random source is reproducible", () => {
  const a = createRandom(99);
  const b = createRandom(99);
  assert.deepEqual([a.next(), a.int(1, 6), a.bytes(5)], [b.next(), b.int(1, 6), b.bytes(5)]);
});

test("the default timeline leaves a quiet baseline and ends before the run does", () => {
  const entries = defaultTimeline(20_000, ["flood", "recon", "token-replay"]);
  assert.equal(entries.length, 3);
  for (const e of entries) {
    assert.ok(e.atMs >= 3_000);
    assert.ok(e.atMs + e.durationMs <= 18_000);
  }
});
