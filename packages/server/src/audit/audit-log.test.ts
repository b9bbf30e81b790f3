import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { pino } from "pino";
import { InProcessBus, ManualClock } from "../core/index.js";
import {
  generateAuditSigningKey,
  loadAuditSigningKey,
  verifyCheckpointSignature,
  type SigningKeyStore,
} from "../identity/index.js";
import type { SignalMap } from "../signals/index.js";
import { AuditLog } from "./audit-log.js";
import { MemoryAuditRepository } from "./memory-audit-repository.js";
import { verifyAuditLog } from "./verify.js";

const log = pino({ level: "silent" });

function memoryKeys(): SigningKeyStore & { saved: number; pem?: string } {
  const store = {
    location: "memory",
    saved: 0,
    pem: undefined as string | undefined,
    load: async () => store.pem,
    save: async (privateKeyPem: string) => {
      store.pem = privateKeyPem;
      store.saved += 1;
    },
  };
  return store;
}

function setup(options: { checkpointEvery?: number; maxBatch?: number; maxQueue?: number; enabled?: boolean } = {}) {
  const repository = new MemoryAuditRepository();
  const bus = new InProcessBus<SignalMap>();
  const clock = new ManualClock();
  const keys = memoryKeys();
  const make = (over: { repository?: MemoryAuditRepository; keys?: SigningKeyStore } = {}) =>
    new AuditLog({
      repository: over.repository ?? repository,
      bus,
      clock,
      log,
      keys: over.keys ?? keys,
      checkpointEvery: options.checkpointEvery ?? 1000,
      ...(options.maxBatch !== undefined ? { maxBatch: options.maxBatch } : {}),
      ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}),
      ...(options.enabled !== undefined ? { enabled: options.enabled } : {}),
    });
  return { repository, bus, clock, keys, audit: make(), make };
}

test("records every signal in emission order, with actor, target and outcome; nothing is written inside emit()", async () => {
  const { repository, bus, clock, audit } = setup();
  await audit.start();
  await audit.flush();
  assert.deepEqual(
    repository.entries.map((e) => e.action),
    ["audit.key_created"],
    "the key's creation is the log's first entry",
  );
  const written = repository.entries.length;

  bus.emit("operator.created", { operator: "admin", by: "bootstrap" });
  clock.advance(5);
  bus.emit("auth.failed", { username: "admin", remote: "10.0.0.9", reason: "bad_password" });
  bus.emit("auth.succeeded", { operator: "admin", tokenId: "tok_1", remote: "10.0.0.9" });
  bus.emit("device.registered", { device: "meter-7", profile: "smart-meter", by: "admin" });
  bus.emit("auth.denied", { remote: "10.0.0.9", route: "GET /api/v1/devices", code: "AUTH_REQUIRED" });
  assert.equal(repository.entries.length, written, "emit() only queues");

  await audit.flush();
  const entries = repository.entries.slice(written);
  assert.deepEqual(
    entries.map((e) => [e.seq, e.action, e.actor, e.target, e.outcome]),
    [
      [2, "operator.created", "system", "admin", "success"],
      [3, "auth.failed", "anonymous", "admin", "failure"],
      [4, "auth.succeeded", "admin", "tok_1", "success"],
      [5, "device.registered", "admin", "meter-7", "success"],
      [6, "auth.denied", "anonymous", "GET /api/v1/devices", "denied"],
    ],
  );
  assert.equal(entries[0]?.at, Date.UTC(2026, 0, 1));
  assert.equal(entries[1]?.at, Date.UTC(2026, 0, 1) + 5, "time of emission, from the injected clock");
  assert.deepEqual(JSON.parse(entries[3]?.details ?? ""), { by: "admin", device: "meter-7", profile: "smart-meter" });
  assert.equal((await verifyAuditLog(repository)).intact, true);
  await audit.stop();
});

test("signals not described explicitly are still recorded, with a generic reading", async () => {
  const { repository, bus, audit } = setup();
  await audit.start();
  const anyBus = bus as unknown as InProcessBus<Record<string, unknown>>;
  anyBus.emit("trust.changed", { device: "cam-1", from: 80, to: 35 });
  anyBus.emit("gateway.publish_denied", { device: "cam-1", topic: "x" });
  await audit.flush();
  assert.deepEqual(
    repository.entries.slice(-2).map((e) => [e.action, e.actor, e.target, e.outcome]),
    [
      ["trust.changed", "system", "cam-1", "success"],
      ["gateway.publish_denied", "system", "cam-1", "denied"],
    ],
  );
  await audit.stop();
});

test("no secret reaches an entry: secret-named members are redacted at any depth, ids are kept", async () => {
  const { repository, bus, audit } = setup();
  await audit.start();
  const anyBus = bus as unknown as InProcessBus<Record<string, unknown>>;
  anyBus.emit("test.secrets", {
    password: "hunter2-hunter2",
    nested: { token: "vgl1.tok_9.s3cr3t", tokenId: "tok_9", list: [{ privateKey: "-----BEGIN PRIVATE KEY-----" }] },
    newPassword: "another secret pass",
  });
  await audit.flush();
  const text = JSON.stringify(repository.entries);
  for (const secret of ["hunter2-hunter2", "s3cr3t", "BEGIN PRIVATE KEY", "another secret pass"]) {
    assert.ok(!text.includes(secret), `${secret} was recorded`);
  }
  assert.deepEqual(JSON.parse(repository.entries.at(-1)?.details ?? ""), {
    nested: { list: [{ privateKey: "[redacted]" }], token: "[redacted]", tokenId: "tok_9" },
    newPassword: "[redacted]",
    password: "[redacted]",
  });
  await audit.stop();
});

test("batches: one transaction per maxBatch entries, order kept; the timer flushes without flush()", async () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const { repository, bus, audit } = setup({ maxBatch: 100 });
    await audit.start();
    for (let i = 0; i < 250; i++) bus.emit("device.registered", { device: `d-${i}`, profile: null, by: "admin" });
    assert.equal(repository.entries.length, 0);
    mock.timers.tick(20);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(repository.batches, [100, 100, 51], "251 entries (key + 250) in three transactions");
    assert.deepEqual(
      repository.entries.slice(1).map((e) => e.target),
      Array.from({ length: 250 }, (_, i) => `d-${i}`),
    );
    await audit.stop();
  } finally {
    mock.timers.reset();
  }
});

test("a failed write loses nothing: the batch is retried before newer entries, and the chain stays whole", async () => {
  const { repository, bus, audit } = setup();
  await audit.start();
  await audit.flush();
  repository.failNext = 1;
  bus.emit("device.registered", { device: "a", profile: null, by: "admin" });
  await assert.rejects(audit.flush(), /disk full/);
  bus.emit("device.registered", { device: "b", profile: null, by: "admin" });
  await audit.flush();
  assert.deepEqual(repository.entries.map((e) => [e.seq, e.target]).slice(1), [
    [2, "a"],
    [3, "b"],
  ]);
  assert.equal((await verifyAuditLog(repository)).intact, true);
  await audit.stop();
});

test("a signed checkpoint every N entries and one on stop, verifiable with the public key alone", async () => {
  const { repository, bus, keys, audit } = setup({ checkpointEvery: 5 });
  await audit.start();
  for (let i = 0; i < 12; i++) bus.emit("device.registered", { device: `d-${i}`, profile: null, by: "admin" });
  await audit.flush();
  assert.deepEqual(
    repository.checkpointRows.map((c) => c.seq),
    [5, 10],
  );
  await audit.stop();
  assert.deepEqual(
    repository.checkpointRows.map((c) => c.seq),
    [5, 10, 13],
    "the last one, at the head, on stop",
  );
  const publicKey = loadAuditSigningKey(keys.pem ?? "", "memory").publicKeyPem;
  assert.deepEqual(
    repository.keyRows.map((k) => k.publicKey),
    [publicKey],
    "the public key is recorded",
  );
  for (const c of repository.checkpointRows) {
    assert.equal(c.hash, repository.entries[c.seq - 1]?.hash);
    assert.ok(verifyCheckpointSignature(publicKey, c, c.signature));
  }
  const report = await verifyAuditLog(repository);
  assert.equal(report.intact, true);
  assert.equal(report.checkpoints, 3);
  assert.equal(report.unsigned, 0);
  // Nothing new: a second stop signs nothing more.
  await audit.stop();
  assert.equal(repository.checkpointRows.length, 3);
});

test("a restart continues the chain from the stored head; a replaced key is recorded in the log and both verify", async () => {
  const { repository, bus, keys, audit, make } = setup({ checkpointEvery: 1000 });
  await audit.start();
  bus.emit("platform.started", { version: "t", apiUrl: "https://x" });
  await audit.stop();
  const again = make();
  await again.start();
  bus.emit("platform.started", { version: "t", apiUrl: "https://x" });
  await again.stop();
  assert.equal(keys.saved, 1, "the key is created once");
  assert.deepEqual(
    repository.entries.map((e) => e.action),
    ["audit.key_created", "platform.started", "platform.started"],
  );

  const lost = make({ keys: memoryKeys() });
  await lost.start();
  await lost.stop();
  const last = repository.entries.at(-1);
  assert.equal(last?.action, "audit.key_created");
  assert.deepEqual((JSON.parse(last?.details ?? "{}") as { previousKeys: string[] }).previousKeys, [repository.keyRows[0]?.id]);
  assert.equal(repository.keyRows.length, 2);
  const report = await verifyAuditLog(repository);
  assert.equal(report.intact, true);
  assert.equal(report.checkpoints, 3);
});

test("disabled: nothing recorded, no key made, reads still answer", async () => {
  const { repository, bus, keys, audit } = setup({ enabled: false });
  await audit.start();
  bus.emit("platform.started", { version: "t", apiUrl: "https://x" });
  await audit.flush();
  await audit.stop();
  assert.equal(repository.entries.length, 0);
  assert.equal(keys.saved, 0);
  assert.deepEqual(await audit.list({ after: 0, limit: 10 }), { items: [], next: null, head: 0 });
});

test("list pages by seq and includes what was only queued", async () => {
  const { bus, audit } = setup();
  await audit.start();
  for (let i = 0; i < 5; i++) bus.emit("device.registered", { device: `d-${i}`, profile: null, by: "admin" });
  const first = await audit.list({ after: 0, limit: 4 });
  assert.deepEqual(
    first.items.map((e) => e.seq),
    [1, 2, 3, 4],
  );
  assert.equal(first.next, 4);
  assert.equal(first.head, 6);
  const second = await audit.list({ after: 4, limit: 4 });
  assert.deepEqual(
    second.items.map((e) => e.seq),
    [5, 6],
  );
  assert.equal(second.next, null);
  await audit.stop();
});

test("the signing key from the store is used as is (not regenerated)", async () => {
  const { repository, keys, make } = setup();
  const pair = generateAuditSigningKey();
  keys.pem = pair.privateKeyPem;
  const audit = make();
  await audit.start();
  await audit.stop();
  assert.equal(keys.saved, 0);
  assert.equal(repository.keyRows[0]?.publicKey, pair.publicKeyPem);
  assert.equal(repository.entries[0]?.action, "audit.key_added", "a key the log did not know yet is announced");
});

test("a flood beyond maxQueue keeps memory bounded, and the loss is recorded in the chain where it happened", async () => {
  const { repository, bus, audit } = setup({ maxQueue: 5 });
  await audit.start();
  await audit.flush();
  for (let i = 0; i < 8; i++) bus.emit("device.registered", { device: `d-${i}`, profile: null, by: "admin" });
  await audit.flush();
  bus.emit("device.registered", { device: "after", profile: null, by: "admin" });
  await audit.stop();
  assert.deepEqual(
    repository.entries.slice(1).map((e) => e.target ?? e.action),
    ["d-0", "d-1", "d-2", "d-3", "d-4", "audit.entries_dropped", "after"],
  );
  const dropped = repository.entries.find((e) => e.action === "audit.entries_dropped");
  assert.equal((JSON.parse(dropped?.details ?? "{}") as { count: number }).count, 3);
  assert.equal(dropped?.outcome, "failure");
  assert.equal((await verifyAuditLog(repository)).intact, true);
});

test("commit(): entries queued before it are durable when it resolves; callers in one turn share one write", async () => {
  const { repository, bus, audit } = setup();
  await audit.start();
  await audit.flush();
  const batches = mock.method(repository, "appendBatch");
  bus.emit("device.registered", { device: "dev-a", profile: null, by: "alice" });
  bus.emit("device.registered", { device: "dev-b", profile: null, by: "alice" });
  // Three callers acknowledging in the same event-loop turn (as concurrent API replies do).
  await Promise.all([audit.commit(), audit.commit(), audit.commit()]);
  assert.deepEqual(
    repository.entries.slice(-2).map((e) => e.target),
    ["dev-a", "dev-b"],
    "both entries are written when commit() resolves, without waiting for the 20 ms timer",
  );
  assert.equal(batches.mock.callCount(), 1, "one write for the three callers");
  // Nothing queued: commit() still resolves (and writes nothing).
  await audit.commit();
  assert.equal(batches.mock.callCount(), 1);
  await audit.stop();
});
