import assert from "node:assert/strict";
import { test } from "node:test";
import { AnomalyDetector } from "./anomaly-detector.js";
import type { PacketRecord } from "./capture-reader.js";
import { DampedFeatures, FEATURE_NAMES, LAMBDAS } from "./damped-features.js";
import { KitNet, singleLinkageGroups } from "./kitnet.js";
import { decodePacket, newDecodedPacket, type DecodedPacket } from "./packet-decoder.js";
import { ethernetFrame } from "./packet-builder.js";

function packet(frame: Buffer, ts: number, index = 0): DecodedPacket {
  const r: PacketRecord = {
    index,
    fileOffset: 0,
    buf: frame,
    offset: 0,
    caplen: frame.length,
    origLen: frame.length,
    ts,
    linkType: 1,
    iface: 0,
  };
  return decodePacket(r, newDecodedPacket());
}

test("damped statistics match a direct computation of the decayed weight, mean and variance", () => {
  const f = new DampedFeatures();
  const sizes = [100, 300, 200];
  const times = [10, 10.5, 12];
  let x: Float64Array<ArrayBufferLike> = new Float64Array(0);
  sizes.forEach((size, i) => {
    const frame = ethernetFrame({
      src: "10.0.0.1",
      dst: "10.0.0.2",
      proto: "udp",
      sport: 1000,
      dport: 2000,
      payload: Buffer.alloc(size - 42),
    });
    x = f.update(packet(frame, times[i]!));
  });
  LAMBDAS.forEach((l) => {
    // Each observation weighs 2^(-λ (t_last - t_i)).
    const w = times.map((t) => Math.pow(2, -l * (12 - t)));
    const W = w.reduce((a, b) => a + b, 0);
    const mean = sizes.reduce((a, s, i) => a + w[i]! * s, 0) / W;
    const variance = sizes.reduce((a, s, i) => a + w[i]! * s * s, 0) / W - mean * mean;
    const at = (name: string) => x[FEATURE_NAMES.indexOf(name)]!;
    const close = (a: number, b: number, what: string) =>
      assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
    close(at(`MI_dir_${l}_weight`), W, `weight λ=${l}`);
    close(at(`MI_dir_${l}_mean`), mean, `mean λ=${l}`);
    close(at(`MI_dir_${l}_variance`), variance, `variance λ=${l}`);
    // The destination never sent: the pair's magnitude is the source's mean alone.
    close(at(`HpHp_${l}_magnitude`), mean, `magnitude λ=${l}`);
  });
  // Inter-arrival: 0 (first), 0.5, 1.5 s.
  assert.ok(
    Math.abs(
      x[FEATURE_NAMES.indexOf("HH_jit_0.01_mean")]! - (0 * 2 ** -0.02 + 0.5 * 2 ** -0.015 + 1.5) / (2 ** -0.02 + 2 ** -0.015 + 1),
    ) < 1e-9,
  );
});

test("single linkage groups correlated features and respects the group size", () => {
  // Features 0-2 correlated with each other, 3-5 with each other; the two blocks far apart.
  const n = 6;
  const D = new Float64Array(n * n).fill(0.9);
  for (const block of [
    [0, 1, 2],
    [3, 4, 5],
  ])
    for (const i of block) for (const j of block) D[i * n + j] = i === j ? 0 : 0.1;
  const groups = singleLinkageGroups(D, n, 3).map((g) => [...g].sort());
  assert.deepEqual(groups.sort(), [
    [0, 1, 2],
    [3, 4, 5],
  ]);
  assert.ok(singleLinkageGroups(D, n, 2).every((g) => g.length <= 2));
});

test("KitNET scores an outlier far above the vectors it was trained on", () => {
  const k = new KitNet({ features: 8, fmGrace: 200, adGrace: 2000, maxGroup: 3 });
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const normal = () => {
    const a = rnd();
    return Float64Array.from([a, a * 2, 1 - a, rnd() * 0.1, a + rnd() * 0.05, 0.5, a * a, 3 * a]);
  };
  for (let i = 0; i < 2200; i++) assert.equal(k.process(normal()), 0);
  assert.ok(k.executing);
  const typical = Array.from({ length: 200 }, () => k.execute(normal())).sort((a, b) => a - b)[190]!;
  const outlier = k.execute(Float64Array.from([0.9, 0.1, 0.9, 0.09, 0.1, 0.5, 0.01, 0.2]));
  assert.ok(outlier > 3 * typical, `outlier ${outlier} vs 95th percentile ${typical}`);
});

test("the detector trains, calibrates a threshold, and explains an alert", () => {
  const d = new AnomalyDetector({ fmGrace: 100, adGrace: 1900, mergeSeconds: 5 });
  const frames = [0, 1, 2, 3].map((n) =>
    ethernetFrame({
      src: `10.0.0.${n + 1}`,
      dst: "10.0.0.100",
      proto: "tcp",
      sport: 40000 + n,
      dport: 1883,
      payload: Buffer.alloc(20 + n),
    }),
  );
  let t = 1000;
  for (let i = 0; i < 2000; i++) {
    t += 0.25;
    assert.equal(d.process(packet(frames[i % 4]!, t, i)), 0);
  }
  assert.ok(Number.isFinite(d.threshold) && d.threshold > 0, `threshold ${d.threshold}`);
  // A burst of large packets from a new host to a new port.
  const attack = ethernetFrame({
    src: "10.0.0.66",
    dst: "10.0.0.100",
    proto: "tcp",
    sport: 50000,
    dport: 22,
    payload: Buffer.alloc(1400),
  });
  let max = 0;
  for (let i = 0; i < 50; i++) max = Math.max(max, d.process(packet(attack, (t += 0.001), 2000 + i)));
  assert.ok(max > d.threshold, `score ${max} vs threshold ${d.threshold}`);
  assert.equal(d.alerts.length, 1, "one alert for one host pair, merged");
  const a = d.alerts[0]!;
  assert.equal(a.src, "10.0.0.66:50000");
  assert.equal(a.dst, "10.0.0.100:22");
  assert.ok(a.packets > 1);
  assert.equal(a.deviations.length, 3);
  for (const dev of a.deviations) assert.ok(FEATURE_NAMES.includes(dev.statistic));
});
