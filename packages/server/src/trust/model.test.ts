import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BAD_EVENTS,
  DEFAULT_MODEL_PARAMS,
  FACTORS,
  GOOD_EVENTS,
  MAX_OPEN_VULNERABILITIES,
  EVIDENCE_PER_FACTOR,
  applyEvidence,
  assess,
  emptyTrustState,
  factorWeights,
  tierRank,
  type TrustEvent,
  type TrustState,
  type Severity,
} from "./model.js";
import { VERTICALS, VERTICAL_IDS } from "./verticals.js";

/** mulberry32: a small seeded generator, so every property run is reproducible. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!,
  };
}
type Rng = ReturnType<typeof rng>;

const DAY = 86_400_000;
const LIFETIME = 30 * DAY;
const SEVERITIES: readonly Severity[] = ["low", "medium", "high", "critical"];
const T0 = Date.UTC(2026, 0, 1);

/** A random event at time `at`; certificates have the platform's fixed lifetime. */
function randomEvent(r: Rng, at: number, kinds?: ReadonlySet<TrustEvent["kind"]>): TrustEvent {
  const all: TrustEvent["kind"][] = [
    "attested",
    "certificate",
    "revoked",
    "vulnerability",
    "vulnerability-resolved",
    "finding",
    "conduct",
    "clean",
  ];
  // Clean time is as common as everything else together: findings wipe standing out, and
  // the properties must also be tested on devices that have some.
  const allowed = kinds === undefined ? all : all.filter((k) => kinds.has(k));
  const kind = allowed.includes("clean") && r.next() < 0.5 ? "clean" : r.pick(allowed);
  switch (kind) {
    case "attested":
      return {
        kind,
        at,
        method: r.pick(["claim-token", "manufacturer-certificate", "pre-registered-key"]),
        strength: r.pick([40, 50, 70, 90]),
        keyType: r.pick(["EC-P256", "EC-P384", "RSA-2048", "RSA-4096", null]),
        firmwareVersion: r.pick(["1.0.0", null]),
        serial: "s1",
        reattestation: r.next() < 0.3,
      };
    case "certificate":
      return { kind, at, serial: `c${r.int(1000)}`, notBefore: at, notAfter: at + LIFETIME };
    case "revoked":
      return { kind, at, reason: "keyCompromise", serials: ["c1"] };
    case "vulnerability":
      return { kind, at, advisoryId: `GHSA-${r.int(80)}`, severity: r.pick(SEVERITIES), cvss: r.int(100) / 10 };
    case "vulnerability-resolved":
      return { kind, at, advisoryId: `GHSA-${r.int(80)}` };
    case "finding":
      return {
        kind,
        at,
        id: `f${r.int(1e6)}`,
        rule: "rule",
        severity: r.pick(SEVERITIES),
        category: r.pick(["exfiltration", "flood", "scanning", "other"] as const),
      };
    case "conduct":
      return {
        kind,
        at,
        conduct: r.pick(["denied", "throttled", "connect-refused", "enrollment-failed", "token-replayed"] as const),
        summary: "x",
      };
    case "clean":
      return { kind, at, ms: r.int(2 * DAY) };
  }
}

/** A random history; returns the state and the time of its last event. */
function randomHistory(r: Rng, length: number): { state: TrustState; now: number } {
  let state = emptyTrustState();
  let now = T0;
  for (let i = 0; i < length; i++) {
    now += r.int(DAY);
    state = applyEvidence(state, randomEvent(r, now));
  }
  return { state, now };
}

const RUNS = 1000;

test("property: the score is bounded 0..100 and every explanation adds up, under every vertical", () => {
  const r = rng(1);
  for (let run = 0; run < RUNS; run++) {
    const { state, now } = randomHistory(r, r.int(60));
    const vertical = VERTICALS[r.pick(VERTICAL_IDS)];
    const a = assess(state, now + r.int(40 * DAY), vertical);
    assert.ok(a.score >= 0 && a.score <= 100, `score ${a.score}`);
    const weightSum = a.factors.reduce((s, f) => s + f.weight, 0);
    assert.ok(Math.abs(weightSum - 1) < 1e-3, `weights sum ${weightSum}`);
    const contributions = a.factors.reduce((s, f) => s + f.contribution, 0);
    assert.ok(Math.abs(contributions - a.score) < 0.2, `contributions ${contributions} vs score ${a.score}`);
    for (const f of a.factors) {
      assert.ok(f.value >= 0 && f.value <= 1);
      assert.ok(f.evidence.length <= EVIDENCE_PER_FACTOR);
    }
    assert.ok(Object.keys(state.vulnerabilities).length <= MAX_OPEN_VULNERABILITIES);
  }
});

test("property: deterministic — the same evidence gives the same state and assessment", () => {
  for (let seed = 10; seed < 60; seed++) {
    const a = randomHistory(rng(seed), 40);
    const b = randomHistory(rng(seed), 40);
    assert.deepEqual(a.state, b.state);
    assert.deepEqual(assess(a.state, a.now, VERTICALS.default), assess(b.state, b.now, VERTICALS.default));
    // The state survives persistence as JSON unchanged.
    assert.deepEqual(
      assess(JSON.parse(JSON.stringify(a.state)) as TrustState, a.now, VERTICALS.healthcare),
      assess(a.state, a.now, VERTICALS.healthcare),
    );
  }
});

test("property: monotone — bad evidence never raises score or tier, good evidence never lowers them", () => {
  const r = rng(2);
  for (let run = 0; run < RUNS * 2; run++) {
    const { state, now } = randomHistory(r, r.int(40));
    const vertical = VERTICALS[r.pick(VERTICAL_IDS)];
    const at = now + r.int(DAY);
    const before = assess(state, at, vertical);
    const bad = randomEvent(r, at, BAD_EVENTS);
    const afterBad = assess(applyEvidence(state, bad), at, vertical);
    assert.ok(afterBad.score <= before.score, `${bad.kind} raised ${before.score} -> ${afterBad.score}`);
    assert.ok(tierRank(afterBad.tier) <= tierRank(before.tier), `${bad.kind} raised the tier ${before.tier} -> ${afterBad.tier}`);
    const good = randomEvent(r, at, GOOD_EVENTS);
    const afterGood = assess(applyEvidence(state, good), at, vertical);
    assert.ok(afterGood.score >= before.score, `${good.kind} lowered ${before.score} -> ${afterGood.score}`);
    assert.ok(
      tierRank(afterGood.tier) >= tierRank(before.tier),
      `${good.kind} lowered the tier ${before.tier} -> ${afterGood.tier}`,
    );
  }
});

test("property: time alone never raises trust (recovery needs evidence)", () => {
  const r = rng(3);
  for (let run = 0; run < RUNS; run++) {
    const { state, now } = randomHistory(r, r.int(40));
    const vertical = VERTICALS[r.pick(VERTICAL_IDS)];
    const a = assess(state, now, vertical);
    const later = assess(state, now + 1 + r.int(120 * DAY), vertical);
    assert.ok(later.score <= a.score, `time raised ${a.score} -> ${later.score}`);
    assert.ok(tierRank(later.tier) <= tierRank(a.tier));
  }
});

test("a new claim-token device is standard; a manufacturer-attested one is trusted; findings quarantine, clean time recovers", () => {
  const at = T0;
  const welcome = (method: string, strength: number) =>
    applyEvidence(
      applyEvidence(emptyTrustState(), { kind: "certificate", at, serial: "c1", notBefore: at, notAfter: at + LIFETIME }),
      {
        kind: "attested",
        at,
        method,
        strength,
        keyType: "EC-P256",
        firmwareVersion: "2.4.1",
        serial: "c1",
        reattestation: false,
      },
    );
  const claim = assess(welcome("claim-token", 40), at, VERTICALS.default);
  assert.equal(claim.score, 75.8);
  assert.equal(claim.tier, "standard");
  assert.equal(assess(welcome("manufacturer-certificate", 90), at, VERTICALS.default).tier, "trusted");

  let s = welcome("claim-token", 40);
  for (const id of ["f1", "f2"]) {
    s = applyEvidence(s, { kind: "finding", at, id, rule: "topic-scan", severity: "high", category: "scanning" });
  }
  const q = assess(s, at, VERTICALS.default);
  assert.equal(q.tier, "quarantine");
  assert.equal(q.scoreTier, "standard", "the score alone is still standard: the debt ceiling quarantines");
  assert.deepEqual(
    q.factors.find((f) => f.id === "behaviour")!.evidence.map((e) => e.ref),
    ["f1", "f2"],
  );
  // Clean observed time pays the debt back: one day -> restricted, five -> standard.
  s = applyEvidence(s, { kind: "clean", at: at + DAY, ms: DAY + 1 });
  assert.equal(assess(s, at + DAY, VERTICALS.default).tier, "restricted");
  for (let d = 2; d <= 5; d++) s = applyEvidence(s, { kind: "clean", at: at + d * DAY, ms: DAY });
  assert.equal(assess(s, at + 5 * DAY, VERTICALS.default).tier, "standard");
  // Merged clean evidence: one entry, not one per observation.
  assert.equal(s.evidence.goodStanding?.filter((e) => e.observedMs !== undefined).length, 1);
});

test("verticals: exfiltration quarantines healthcare, throttles automotive; automotive never auto-quarantines", () => {
  const at = T0;
  let s = applyEvidence(emptyTrustState(), {
    kind: "attested",
    at,
    method: "manufacturer-certificate",
    strength: 90,
    keyType: "EC-P256",
    firmwareVersion: "1",
    serial: "c1",
    reattestation: false,
  });
  s = applyEvidence(s, { kind: "finding", at, id: "f9", rule: "exfil-spike", severity: "low", category: "exfiltration" });
  assert.equal(assess(s, at, VERTICALS.healthcare).tier, "quarantine");
  assert.equal(assess(s, at, VERTICALS.automotive).tier, "restricted");
  for (const id of ["a", "b", "c"])
    s = applyEvidence(s, { kind: "finding", at, id, rule: "r", severity: "high", category: "flood" });
  const auto = assess(s, at, VERTICALS.automotive);
  assert.equal(auto.tier, "restricted");
  assert.equal(auto.quarantineAwaitsApproval, true);
  // Three days of clean time lift the exfiltration hold (and pay part of the debt).
  s = applyEvidence(s, { kind: "clean", at: at + 3 * DAY, ms: 3 * DAY });
  assert.ok(!assess(s, at + 3 * DAY, VERTICALS.healthcare).ceilings.some((c) => c.reason.startsWith("exfiltration")));
});

test("vertical weights: healthcare weighs key strength more than automotive; automotive weighs standing more", () => {
  const health = factorWeights(VERTICALS.healthcare);
  const auto = factorWeights(VERTICALS.automotive);
  assert.ok(health.keyStrength > auto.keyStrength);
  assert.ok(auto.goodStanding > health.goodStanding);
  const def = factorWeights(VERTICALS.default);
  for (const f of FACTORS) assert.ok(Math.abs(def[f.id] - f.baseWeight) < 1e-9, f.id);
  assert.ok(Math.abs(FACTORS.reduce((s, f) => s + f.baseWeight, 0) - 1) < 1e-9);
});

test("open vulnerabilities are bounded per device and overflow still counts", () => {
  let s = emptyTrustState();
  for (let i = 0; i < MAX_OPEN_VULNERABILITIES + 10; i++) {
    s = applyEvidence(s, { kind: "vulnerability", at: T0, advisoryId: `CVE-${i}`, severity: "low", cvss: 2 });
  }
  assert.equal(Object.keys(s.vulnerabilities).length, MAX_OPEN_VULNERABILITIES);
  assert.equal(s.vulnerabilityOverflow, 30);
  assert.equal(assess(s, T0, VERTICALS.default).factors.find((f) => f.id === "vulnerabilities")!.value, 0);
  assert.equal(DEFAULT_MODEL_PARAMS.thresholds.restricted, 25);
});
