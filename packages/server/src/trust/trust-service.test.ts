import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { InProcessBus, ManualClock, type DeviceId, type Millis } from "../core/index.js";
import { newDeviceRecord, type DeviceRecord, type DeviceRepository } from "../identity/index.js";
import type { Profile, Tier } from "../policy/index.js";
import type { SignalMap } from "../signals/index.js";
import { MemoryTrustRepository, TRUST_DEFAULTS, TrustService, trustConfigSchema, type TrustConfig } from "./index.js";

const DAY = 86_400_000;

function fakeDevices(records: DeviceRecord[] = []): DeviceRepository {
  return {
    count: async () => records.length,
    get: async (id) => records.find((r) => r.id === id),
    insert: async () => undefined,
    insertMany: async () => undefined,
    revoke: async () => [],
    list: async () => ({ items: records, next: null }),
  };
}

const profile = (id: string, vertical: Profile["vertical"]) => ({ id, vertical }) as unknown as Profile;
const PROFILES = new Map([
  ["infusion-pump", profile("infusion-pump", "healthcare")],
  ["vehicle-telematics", profile("vehicle-telematics", "automotive")],
  ["smart-meter", profile("smart-meter", "energy")],
]);

function setup(config: Partial<TrustConfig> = {}, records: DeviceRecord[] = []) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const bus = new InProcessBus<SignalMap>();
  const repository = new MemoryTrustRepository();
  const applied: { device: string; tier: Tier; reason: string }[] = [];
  const changes: SignalMap["trust.changed"][] = [];
  bus.on("trust.changed", (p) => changes.push(p));
  const service = new TrustService({
    repository,
    devices: fakeDevices(records),
    bus,
    clock,
    log: pino({ level: "silent" }),
    config: { ...trustConfigSchema.parse({}), ...config },
    profiles: (id) => PROFILES.get(id),
    enforcer: () => ({
      applyTier: async (device, tier, reason) => {
        applied.push({ device, tier, reason });
        return 1;
      },
    }),
  });
  return { clock, bus, repository, service, applied, changes };
}

function welcome(bus: InProcessBus<SignalMap>, clock: ManualClock, device: string, profileId: string, method = "claim-token") {
  bus.emit("identity.issued", {
    device,
    serial: `s-${device}`,
    notAfter: new Date(clock.now() + 30 * DAY).toISOString(),
    renewal: false,
  });
  bus.emit("enrollment.completed", {
    device,
    method: method as "claim-token",
    strength: method === "claim-token" ? 40 : 90,
    profile: profileId,
    firmwareVersion: "1.0.0",
    sbomRef: null,
    keyType: "EC-P256",
    serial: `s-${device}`,
    remote: "127.0.0.1",
  });
}

const finding = (
  device: string,
  id: string,
  severity: "high" | "low" = "high",
  category: "flood" | "exfiltration" = "flood",
) => ({
  id,
  device,
  rule: "r",
  severity,
  category,
  evidence: "x",
});

test("a new device is scored at enrollment, tier changes are emitted and enforced, history is kept and bounded", async () => {
  const { clock, bus, repository, service, applied, changes } = setup({ historyLimit: 3 });
  await service.start();
  try {
    welcome(bus, clock, "pump-1", "infusion-pump");
    const pump = newDeviceRecord({ id: "pump-1" as DeviceId, createdAt: clock.now(), profile: "infusion-pump", state: "active" });
    assert.equal(service.tierOf(pump), "standard");
    const explained = service.explain("pump-1")!;
    assert.equal(explained.vertical, "healthcare");
    assert.equal(explained.factors.find((f) => f.id === "attestation")!.evidence[0]!.signal, "enrollment.completed");
    assert.deepEqual(
      changes.map((c) => [c.from, c.to]),
      [[null, "standard"]],
    );
    changes.length = 0;

    bus.emit("gateway.connected", { device: "pump-1", remote: "r", serial: "s", profile: "infusion-pump", tier: "standard" });
    bus.emit("finding.raised", finding("pump-1", "f1"));
    bus.emit("finding.raised", finding("pump-1", "f2"));
    assert.equal(service.tierOf(pump), "quarantine");
    assert.deepEqual(
      changes.map((c) => [c.from, c.to]),
      [
        ["standard", "restricted"],
        ["restricted", "quarantine"],
      ],
    );
    assert.ok(changes[1]!.reasons[0]!.includes("f2"));
    assert.deepEqual(
      applied.map((a) => a.tier),
      ["restricted", "quarantine"],
    );

    // Recovery only by observed clean time, credited at most an hour per observation.
    clock.advance(10 * DAY);
    service.observe();
    assert.equal(service.tierOf(pump), "quarantine", "ten days unobserved are credited as one hour");
    for (let h = 0; h < 24 * 5 && service.tierOf(pump) !== "standard"; h++) {
      clock.advance(3_600_000);
      service.observe();
    }
    assert.equal(service.tierOf(pump), "standard");
    assert.deepEqual(
      applied.map((a) => a.tier),
      ["restricted", "quarantine", "restricted", "standard"],
    );
    await service.flush();
    const history = await service.history("pump-1");
    assert.ok(history.length <= 3);
    assert.equal(history[0]!.tier, "standard");
    assert.equal((await repository.get("pump-1" as DeviceId))?.tier, "standard");
  } finally {
    await service.stop();
  }
});

test("unknown devices in signals are ignored; a disconnected device earns no clean time", async () => {
  const { clock, bus, service } = setup();
  await service.start();
  try {
    bus.emit("finding.raised", finding("ghost", "f1"));
    bus.emit("gateway.denied", { device: "ghost", action: "publish", topic: "t", reason: "x", rule: "r", qos: 0 });
    assert.equal(service.explain("ghost"), undefined);
    assert.equal(service.distribution().devices, 0);

    welcome(bus, clock, "car-1", "vehicle-telematics");
    bus.emit("finding.raised", finding("car-1", "f1", "low", "exfiltration"));
    const car = service.explain("car-1")!;
    assert.equal(car.vertical, "automotive");
    assert.equal(car.tier, "restricted", "automotive throttles on exfiltration rather than quarantine");
    clock.advance(5 * DAY);
    service.observe();
    assert.equal(service.explain("car-1")!.tier, "restricted", "not connected: no evidence of good behaviour");
  } finally {
    await service.stop();
  }
});

test("devices enrolled before trust existed are scored from their records; persisted scores survive a restart", async () => {
  const clock0 = Date.UTC(2026, 0, 1) as Millis;
  const meter = newDeviceRecord({
    id: "meter-1" as DeviceId,
    createdAt: clock0,
    profile: "smart-meter",
    state: "active",
    attestationMethod: "manufacturer-certificate",
    attestationStrength: 90,
    keyType: "EC-P384",
    firmwareVersion: "3.1",
    enrolledAt: clock0,
  });
  const first = setup({}, [meter]);
  await first.service.start();
  const seeded = first.service.explain("meter-1")!;
  assert.equal(seeded.vertical, "industrial", "energy maps to industrial");
  first.bus.emit("vulnerability.found", { device: "meter-1", advisoryId: "CVE-2026-1", severity: "critical", cvss: 9.8 });
  assert.equal(first.service.explain("meter-1")!.tier, "restricted");
  await first.service.stop();

  const second = setup({}, [meter]);
  for (const r of await first.repository.loadAll()) second.repository.records.set(r.device, r);
  await second.service.start();
  try {
    assert.equal(second.service.tierOf(meter), "restricted");
    second.bus.emit("vulnerability.resolved", { device: "meter-1", advisoryId: "CVE-2026-1", firmwareVersion: "3.2" });
    assert.notEqual(second.service.tierOf(meter), "restricted");
    assert.deepEqual(second.service.distribution().tiers, { quarantine: 0, restricted: 0, standard: 1, trusted: 0 });
  } finally {
    await second.service.stop();
  }
});

test("config: thresholds must increase, and the defaults are the documented ones", () => {
  assert.throws(() => trustConfigSchema.parse({ thresholds: { restricted: 60, standard: 50, trusted: 85 } }));
  assert.deepEqual(trustConfigSchema.parse({}).thresholds, TRUST_DEFAULTS.thresholds);
});
